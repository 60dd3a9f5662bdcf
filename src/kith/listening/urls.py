"""Web UI routes for kith.listening."""

from django.urls import path  # noqa: F401

app_name = "listening"

urlpatterns: list = []
