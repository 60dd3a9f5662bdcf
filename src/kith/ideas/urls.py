"""Web UI routes for kith.ideas."""

from django.urls import path  # noqa: F401

app_name = "ideas"

urlpatterns: list = []
