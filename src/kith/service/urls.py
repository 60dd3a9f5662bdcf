"""Web UI routes for kith.service."""

from django.urls import path  # noqa: F401

app_name = "service"

urlpatterns: list = []
