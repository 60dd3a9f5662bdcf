"""Web UI routes for kith.cmr."""

from django.urls import path  # noqa: F401

app_name = "cmr"

urlpatterns: list = []
