"""Error responses nobody's view produced: unknown paths, wrong methods, crashes, a sick database.

The API answers JSON in every case (``{"detail", "code", "errors"}``), whatever produced
the error: an unknown path under ``/api/``, a method the path does not take, an exception
in a view or a middleware, DEBUG on or off. The web UI answers Kith pages. Nothing shows a
traceback or the URL patterns to a client; crashes are logged here, on the server.

A database that cannot serve (read-only or missing file, full disk, server down) is not a
bug in Kith: it answers 503 ("try again later") rather than 500, and the log says what the
operator must fix, in one line instead of a traceback per request.
"""

from __future__ import annotations

import json
import logging
import sys

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.db import DatabaseError, InternalError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template import loader

from kith.core.errors import NotFound

logger = logging.getLogger("kith.errors")

API_PREFIX = "/api/"
# Codes for error statuses a view did not describe itself.
STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}
STATUS_MESSAGES = {
    400: "Bad request.",
    401: "Authentication required.",
    403: "You do not have permission to do this.",
    404: "Not found.",
    405: "This method is not allowed here.",
    413: "The request is too large.",
    500: "Something went wrong on our side. It has been logged.",
    503: "The database is not available right now. Try again later.",
}
RETRY_AFTER_SECONDS = 30
# PostgreSQL: "cannot execute … in a read-only transaction" (a standby, or
# default_transaction_read_only) arrives as an InternalError with this SQLSTATE.
READ_ONLY_SQLSTATE = "25006"


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def database_unavailable(exc: BaseException | None) -> bool:
    """True when ``exc`` says the database cannot serve, rather than that Kith has a bug.

    Every ``OperationalError`` qualifies (SQLite: "attempt to write a readonly database",
    "database or disk is full", "unable to open database file", "disk I/O error", a
    missing table before ``kith migrate``; PostgreSQL: connection refused, disk full,
    too many connections), and so does a write refused by a read-only PostgreSQL.
    """
    if isinstance(exc, OperationalError):
        return True
    if isinstance(exc, InternalError | DatabaseError):
        cause = exc.__cause__
        return getattr(cause, "sqlstate", None) == READ_ONLY_SQLSTATE or (
            "read-only transaction" in str(exc)
        )
    return False


def error_body(status: int, detail: str | None = None, code: str | None = None) -> dict:
    return {
        "detail": detail or STATUS_MESSAGES.get(status, "The request could not be processed."),
        "code": code or STATUS_CODES.get(status, "error"),
        "errors": [],
    }


def json_error(status: int, detail: str | None = None, code: str | None = None) -> JsonResponse:
    response = JsonResponse(error_body(status, detail, code), status=status)
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def log_unavailable(request: HttpRequest, exc: BaseException) -> None:
    # One line: the operator needs the database's own words, not a stack per request.
    logger.error("database unavailable on %s %s: %s", request.method, request.path, exc)


def api_exception(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Any exception an API endpoint let through: what Django would answer for a bad
    request (400/403/404/413, here as JSON), 503 for the database, else a generic 500."""
    if isinstance(exc, RequestDataTooBig):
        return json_error(413, "The request body is too large.")
    if isinstance(exc, MultiPartParserError | BadRequest | SuspiciousOperation):
        return json_error(400, "The request could not be parsed.")
    if isinstance(exc, PermissionDenied):
        return json_error(403)
    if isinstance(exc, Http404):
        return json_error(404)
    if database_unavailable(exc):
        log_unavailable(request, exc)
        return json_error(503)
    logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return json_error(500)


def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Every path under /api/ that no endpoint matched (DEBUG or not)."""
    return json_error(404, "No API endpoint at this path.")


def server_error_page(status: int) -> HttpResponse:
    """A plain page for 500/503: it must not touch the database (that may be what failed)."""
    try:
        html = loader.render_to_string("web/server_error.html", {"status": status})
    except Exception:
        html = "<!doctype html><title>Kith</title><h1>Kith is not available right now.</h1>"
    response = HttpResponse(html, status=status)
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: JSON under /api/, the Kith error page elsewhere."""
    if is_api(request):
        return json_error(404)
    try:
        return render(request, "web/error.html", {"error": NotFound("Page not found")}, status=404)
    except DatabaseError:
        return server_error_page(503)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: Django calls it inside the ``except`` that caught the exception.

    Django has already logged the exception (``django.request``); here only the answer is
    chosen: 503 when the database is what failed, else 500; JSON under /api/.
    """
    exc = sys.exc_info()[1]
    status = 503 if database_unavailable(exc) else 500
    if status == 503 and exc is not None:
        log_unavailable(request, exc)
    if is_api(request):
        return json_error(status)
    return server_error_page(status)


class ApiJsonErrorsMiddleware:
    """Turns any non-JSON error response under /api/ into the API's JSON error shape.

    Sits near the top of the stack, so it also sees what other middleware and Django
    answered (405 from a path that takes other methods, 403 from CSRF, 413 for a large
    body, a DEBUG page): an API client always gets ``{"detail", "code", "errors"}``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api(request)
            and not getattr(response, "streaming", False)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            replacement = json_error(response.status_code, _short_detail(response))
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    replacement[header] = response[header]
            return replacement
        return response


def _short_detail(response: HttpResponse) -> str | None:
    """A plain-text reason a view gave (never HTML, never a traceback)."""
    if response.status_code >= 500:
        return None
    content_type = response.get("Content-Type", "")
    if not content_type.startswith("text/plain"):
        return None
    text = response.content.decode(errors="replace").strip()
    if not text or "\n" in text or len(text) > 200:
        return None
    try:
        json.loads(text)
    except ValueError:
        return text
    return None
