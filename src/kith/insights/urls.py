"""Web UI routes for kith.insights."""

from django.urls import path  # noqa: F401

app_name = "insights"

urlpatterns: list = []
