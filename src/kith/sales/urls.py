"""Web UI routes for kith.sales."""

from django.urls import path  # noqa: F401

app_name = "sales"

urlpatterns: list = []
