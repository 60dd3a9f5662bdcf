"""URL map: the API under /api/, the web UI everywhere else."""

from django.urls import include, path

from kith.api import api

urlpatterns = [
    path("api/", api.urls),
    path("", include("kith.web.urls")),
]
