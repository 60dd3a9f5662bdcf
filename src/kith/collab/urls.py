"""Web UI routes for kith.collab."""

from django.urls import path  # noqa: F401

app_name = "collab"

urlpatterns: list = []
