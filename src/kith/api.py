"""The HTTP API: one NinjaAPI with every app's router, auth, and error mapping in one place."""

from __future__ import annotations

import threading
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from kith.accounts.auth import api_auth, staff_api_auth
from kith.core.errors import SAFE_METHODS, KithError, Moved
from kith.core.http_errors import api_exception
from kith.core.inputs import INPUT_EXCEPTIONS, guard_operations, input_exception_response


class _KithAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document is built once per process and path prefix.

    ninja builds the document (every operation's pydantic schemas) on each call, which
    took over a second per ``GET /api/openapi.json``. The routers are all mounted at
    import (``_register_routers``) and nothing changes them later, so the document is
    static once built. Callers get the cached document: read it, do not change it.
    ``clear_openapi_cache()`` forgets it (a test that mounts a router afterwards).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._openapi_cache: dict[str, Any] = {}
        self._openapi_lock = threading.Lock()
        self.openapi_builds = 0  # how many times the document was built (tests read it)

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        schema = self._openapi_cache.get(path_prefix)
        if schema is None:
            # One build at a time: concurrent first requests wait for it, not redo it.
            with self._openapi_lock:
                schema = self._openapi_cache.get(path_prefix)
                if schema is None:
                    schema = super().get_openapi_schema(path_prefix=path_prefix)
                    self.openapi_builds += 1
                    self._openapi_cache[path_prefix] = schema
        return schema

    def clear_openapi_cache(self) -> None:
        with self._openapi_lock:
            self._openapi_cache.clear()


api = _KithAPI(
    title="Kith API",
    version="1",
    description="Kith Social CRM. Authenticate with `Authorization: Bearer kith_…` or a session.",
    auth=api_auth,
    urls_namespace="api",
)


@api.exception_handler(KithError)
def kith_error(request: HttpRequest, exc: KithError) -> HttpResponse:
    if isinstance(exc, Moved) and request.method not in SAFE_METHODS:
        exc = exc.as_conflict()  # a write is not redirected to the survivor: 409
    response = api.create_response(request, exc.as_dict(), status=exc.status)
    if isinstance(exc, Moved) and exc.location:
        response["Location"] = exc.location
    return response


def _field_name(loc: list) -> str:
    # ninja reports ("body", "payload", "field", ...); callers know fields, not wrappers.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "payload", "form")]
    return ".".join(parts) or "request"


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"field": _field_name(list(e.get("loc", []))), "message": e.get("msg", "Invalid value.")}
        for e in exc.errors
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid request."
    return api.create_response(
        request, {"detail": detail, "code": "validation_failed", "errors": errors}, status=422
    )


@api.exception_handler(AuthenticationError)
def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request,
        {"detail": "Authentication required.", "code": "not_authenticated", "errors": []},
        status=401,
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(
        request, {"detail": str(exc), "code": "error", "errors": []}, status=exc.status_code
    )


def input_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    # A body too large or malformed, a value the database refuses: the caller's error
    # (413/400/422), not a crash (kith.core.inputs).
    return input_exception_response(request, exc) or api_exception(request, exc)


for _exc in INPUT_EXCEPTIONS:
    api.add_exception_handler(_exc, input_error)


@api.exception_handler(Exception)
def unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Replaces ninja's default, which re-raises (an HTML 500 page) or, with DEBUG on,
    # answers the traceback: a 503 when the database failed, else a generic JSON 500,
    # the details in the server's log (kith.core.http_errors).
    return api_exception(request, exc)


def _register_routers() -> None:
    from kith.accounts.api import router as accounts_router
    from kith.accounts.api_admin import router as users_router
    from kith.cmr.api import router as cmr_router
    from kith.collab.api import router as collab_router
    from kith.community.api import router as community_router
    from kith.core.api import router as system_router
    from kith.ideas.api import router as ideas_router
    from kith.insights.api import router as insights_router
    from kith.insights.api_research import router as research_router
    from kith.insights.api_value import router as value_router
    from kith.interactions.api import router as interactions_router
    from kith.listening.api import router as listening_router
    from kith.mail.api import router as mail_router
    from kith.people.api import router as people_router
    from kith.people.api_imports import router as imports_router
    from kith.portal.api import router as portal_router
    from kith.portal.api_surveys import router as portal_surveys_router
    from kith.sales.api import router as sales_router
    from kith.service.api import router as service_router
    from kith.web.api import router as search_router
    from kith.web.trash_api import router as trash_router
    from kith.work.api import router as work_router

    api.add_router("/", accounts_router)
    # Imports first: its fixed paths (/people/export.csv, /people/imports) must be matched
    # before the people router's /people/{party_id} pattern swallows them.
    # Staff-only routers: a customer's login answers 404 there before input is read.
    api.add_router("/", imports_router, auth=staff_api_auth)
    api.add_router("/", people_router, auth=staff_api_auth)
    api.add_router("/", interactions_router, auth=staff_api_auth)
    api.add_router("/", mail_router, auth=staff_api_auth)
    api.add_router("/", users_router, auth=staff_api_auth)
    api.add_router("/", sales_router, auth=staff_api_auth)
    api.add_router("/", service_router, auth=staff_api_auth)
    api.add_router("/", work_router, auth=staff_api_auth)
    api.add_router("/", system_router, auth=staff_api_auth)
    api.add_router("/", search_router, auth=staff_api_auth)
    api.add_router("/", trash_router, auth=staff_api_auth)
    api.add_router("/", collab_router)
    api.add_router("/", community_router)
    api.add_router("/", ideas_router)
    api.add_router("/", portal_router)
    api.add_router("/", portal_surveys_router)
    api.add_router("/", cmr_router)
    api.add_router("/", listening_router)
    api.add_router("/", insights_router)
    # Mounted here, not nested in the insights router: nested routers are only attached
    # when the URLs are built, after guard_operations has run, so they missed the rules.
    api.add_router("/", research_router)
    api.add_router("/", value_router)


_register_routers()
# Every endpoint's parameters (body, query, path, form) pass Kith's input rules.
guard_operations(api)
