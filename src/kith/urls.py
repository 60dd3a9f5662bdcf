"""URL map: the API under /api/, the web UI everywhere else."""

from django.urls import include, path

from kith.api import api
from kith.cmr import views as cmr_views
from kith.core.http_errors import api_not_found

# JSON under /api/, Kith pages elsewhere, never Django's defaults (kith.core.http_errors).
handler404 = "kith.core.http_errors.page_not_found"
handler500 = "kith.core.http_errors.server_error"

urlpatterns = [
    path("api/", api.urls),
    # After every endpoint: an unknown API path is a JSON 404, even with DEBUG on.
    path("api/<path:rest>", api_not_found),
    # The public key that verifies consent receipts, where JOSE tooling looks for it.
    path(".well-known/jwks.json", cmr_views.jwks, name="jwks"),
    path("", include("kith.web.urls")),
]
