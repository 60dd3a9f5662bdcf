"""Errors nobody's view described: JSON from the API in every case (DEBUG on or off), Kith
pages for the web UI, 503 instead of 500 when the database cannot serve, no tracebacks."""

from __future__ import annotations

import contextlib
import json
import logging
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client, RequestFactory

from kith.core import http_errors
from tests.conftest import PASSWORD


def _assert_api_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"detail", "code", "errors"} and body["code"] == code
    return body


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_paths_are_json_404(api_as, alice, settings, debug):
    settings.DEBUG = debug
    for path in ("/api/no-such-thing", "/api/people/x/y/z", "/api/"):
        body = _assert_api_error(api_as(alice).get(path), 404, "not_found")
        assert "URLconf" not in body["detail"]
    # Anonymous callers too.
    _assert_api_error(Client().get("/api/nope"), 404, "not_found")


@pytest.mark.parametrize("debug", [False, True])
def test_wrong_method_is_json_405_with_allow(api_as, alice, settings, debug):
    settings.DEBUG = debug
    response = api_as(alice).delete("/api/me")
    _assert_api_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


@pytest.mark.parametrize("debug", [False, True])
def test_a_crash_in_an_endpoint_is_a_generic_json_500_logged_on_the_server(
    api_as, alice, settings, caplog, debug
):
    settings.DEBUG = debug
    client = api_as(alice)
    with mock.patch("kith.accounts.models.User.teams", new_callable=mock.PropertyMock) as teams:
        teams.side_effect = RuntimeError("secret internals")
        response = client.get("/api/me")
    body = _assert_api_error(response, 500, "server_error")
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert "logged" in body["detail"]
    assert any("secret internals" in str(r.exc_info) for r in caplog.records if r.exc_info)


def test_a_crash_outside_the_api_views_is_still_json(rf_request_in_except):
    response = rf_request_in_except("/api/people", RuntimeError("boom"))
    _assert_api_error(response, 500, "server_error")
    unavailable = rf_request_in_except(
        "/api/people", OperationalError("attempt to write a readonly database")
    )
    _assert_api_error(unavailable, 503, "unavailable")
    page = rf_request_in_except("/people/", RuntimeError("boom"))
    assert page.status_code == 500 and b"Something went wrong" in page.content


@pytest.fixture
def rf_request_in_except():
    """Call handler500 as Django does: inside the except that caught the exception."""

    def call(path: str, exc: Exception):
        request = RequestFactory().get(path)
        try:
            raise exc
        except Exception:
            return http_errors.server_error(request)

    return call


def test_html_error_from_elsewhere_under_api_becomes_json(rf):
    from django.http import HttpResponse, HttpResponseNotAllowed

    middleware = http_errors.ApiJsonErrorsMiddleware(
        lambda request: HttpResponse("<h1>Request Entity Too Large</h1>", status=413)
    )
    _assert_api_error(middleware(rf.post("/api/people")), 413, "too_large")
    plain = http_errors.ApiJsonErrorsMiddleware(
        lambda request: HttpResponse("Token expired.", status=403, content_type="text/plain")
    )
    assert json.loads(plain(rf.get("/api/me")).content)["detail"] == "Token expired."
    allowed = http_errors.ApiJsonErrorsMiddleware(lambda r: HttpResponseNotAllowed(["GET"]))
    assert allowed(rf.put("/api/me"))["Allow"] == "GET"
    # Web pages and successful API answers are left alone.
    web = http_errors.ApiJsonErrorsMiddleware(lambda r: HttpResponse("<p>x</p>", status=404))
    assert web(rf.get("/people/x/")).content == b"<p>x</p>"


def test_web_404_is_the_kith_page_without_url_patterns(alice):
    client = Client()
    client.force_login(alice)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html and "kith.css" in html
    assert "URLconf" not in html and "urlpatterns" not in html


def test_web_500_is_the_kith_page(alice, settings):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    with mock.patch("kith.web.dashboard.build", side_effect=RuntimeError("secret internals")):
        response = client.get("/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html and "secret internals" not in html


@contextlib.contextmanager
def read_only_database():
    """Make the test database refuse writes the way a read-only file or standby does.

    Undone on the raw connection: a failed write may have marked the test's transaction
    for rollback, and Django refuses queries through its wrapper until then.
    """
    raw = connection.cursor().connection  # opens the connection if needed
    if connection.vendor == "sqlite":
        raw.execute("PRAGMA query_only = ON")  # "attempt to write a readonly database"
    else:
        raw.execute("SAVEPOINT kith_read_only")
        raw.execute("SET LOCAL transaction_read_only = on")  # SQLSTATE 25006
    try:
        yield
    finally:
        if connection.vendor == "sqlite":
            raw.execute("PRAGMA query_only = OFF")
        else:
            raw.execute("ROLLBACK TO SAVEPOINT kith_read_only")
        connection.needs_rollback = False


def test_api_write_on_a_read_only_database_is_json_503(api_as, alice, caplog):
    client = api_as(alice)
    with read_only_database(), caplog.at_level(logging.ERROR, logger="kith.errors"):
        response = client.post("/api/people", {"given_name": "Ro", "family_name": "Only"})
    body = _assert_api_error(response, 503, "unavailable")
    assert response["Retry-After"]
    assert "Traceback" not in response.content.decode() and "Try again later" in body["detail"]
    assert any("database unavailable" in r.getMessage() for r in caplog.records)


def test_web_login_on_a_read_only_database_is_a_plain_503_page(alice):
    client = Client(raise_request_exception=False)
    with read_only_database():
        response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 503
    html = response.content.decode()
    assert "not available right now" in html and "Traceback" not in html


def test_database_unavailable_classification():
    assert http_errors.database_unavailable(OperationalError("database or disk is full"))
    assert not http_errors.database_unavailable(ValueError("x"))
    assert not http_errors.database_unavailable(None)


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        ("RequestDataTooBig", 413, "too_large"),
        ("MultiPartParserError", 400, "bad_request"),
        ("SuspiciousOperation", 400, "bad_request"),
        ("PermissionDenied", 403, "forbidden"),
    ],
)
def test_bad_requests_raised_inside_an_endpoint_keep_their_4xx(rf, exc, status, code):
    from django.core import exceptions
    from django.http import multipartparser

    cls = getattr(exceptions, exc, None) or getattr(multipartparser, exc)
    response = http_errors.api_exception(rf.post("/api/people"), cls("x"))
    _assert_api_error(response, status, code)


def test_multipart_without_boundary_is_a_json_400(api_as, alice):
    client = api_as(alice)
    response = client.client.post(
        "/api/people/imports",
        data=b"--x\r\n",
        content_type="multipart/form-data",
        headers=client.headers,
    )
    assert response.status_code in (400, 422), response.content
    assert response["Content-Type"].startswith("application/json")


def test_serve_refuses_debug_on_a_reachable_address(db, settings, monkeypatch):
    import uvicorn
    from django.core.management import CommandError, call_command

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    monkeypatch.setattr("kith.core.management.commands.serve.exit_if_requests_stuck", lambda: None)
    settings.DEBUG = True
    with pytest.raises(CommandError, match="DEBUG is on"):
        call_command("serve", "--no-worker", "--host", "0.0.0.0")
    assert started == []
    call_command("serve", "--no-worker", "--host", "127.0.0.1")  # the developer's machine
    settings.DEBUG = False
    call_command("serve", "--no-worker", "--host", "0.0.0.0")
    assert len(started) == 2
