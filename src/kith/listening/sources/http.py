"""The one HTTP client every polled source fetches through.

Source URLs are typed in by staff, so a fetch is a request Kith makes on someone's say-so
into whatever network the worker sits in. ``GuardedSession`` (a ``requests.Session``,
which Mastodon.py accepts as its transport too) therefore:

* refuses any URL whose host resolves to a private, loopback, link-local, multicast or
  reserved address, on the first request and on every redirect, unless
  ``KITH_LISTENING_ALLOW_PRIVATE_ADDRESSES`` is set (an intranet feed; the tests);
* bounds redirects (5), applies a timeout when the caller gave none, and caps the bytes
  read from one response (``KITH_LISTENING_MAX_FETCH_BYTES``), so a hostile or broken
  server can neither hang the worker nor exhaust its memory;
* remembers the last response's headers, so a caller behind a library (Mastodon.py
  does not surface ``Retry-After``) can still honour them.

The check runs twice: on the URL before anything is sent (a clear error, no connection),
and again inside the connection itself (``_GuardedAdapter``), which resolves the name
once, refuses any non-public answer and connects to exactly the addresses it checked. A
DNS answer that changes between the two (rebinding) therefore cannot slip a private
address in. TLS still verifies the certificate against the URL's host name.
"""

from __future__ import annotations

import email.utils
import ipaddress
import socket
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from kith.core.inputs import whole_number
from kith.listening.incoming import SourceError

MAX_REDIRECTS = 5
USER_AGENT = "Kith-Listening/1.0"
_CHUNK = 64 * 1024


def host_is_private(host: str) -> bool:
    """Whether ``host`` (a name or a literal address) is or resolves to a non-public address.

    A name that does not resolve is not private (the fetch fails on its own with a clear
    ``unreachable``); any one non-public address among those it resolves to is enough.
    """
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return False
        addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    return any(not _is_public(address) for address in addresses)


def literal_is_private(host: str) -> bool:
    """Like ``host_is_private`` without a DNS lookup: literal addresses and localhost only.

    Used when validating a configuration (no network in a request handler); the fetch
    checks the resolved addresses again.
    """
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return not _is_public(ipaddress.ip_address(host))
    except ValueError:
        return False


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


class _PinnedConnection:
    """Mixin for urllib3 connections: resolve once, refuse non-public addresses, connect
    only to the addresses checked (``_dns_host`` is what urllib3 connects to; ``host``
    stays the name, for the Host header and TLS)."""

    def _new_conn(self):  # type: ignore[no-untyped-def]
        name = self._dns_host
        try:
            infos = socket.getaddrinfo(name, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:
            if not _is_public(ipaddress.ip_address(address.split("%", 1)[0])):
                raise SourceError(
                    "private_address",
                    f"{self.host} resolves to a private or local address; "
                    "set KITH_LISTENING_ALLOW_PRIVATE_ADDRESSES to allow it.",
                )
        last: Exception | None = None
        try:
            for address in addresses:
                self._dns_host = address
                try:
                    return super()._new_conn()
                except (NewConnectionError, ConnectTimeoutError) as exc:
                    last = exc
        finally:
            self._dns_host = name
        assert last is not None
        raise last


class _PinnedHTTPConnection(_PinnedConnection, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnection, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections check and pin the addresses they connect to."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PinnedHTTPPool,
            "https": _PinnedHTTPSPool,
        }


def private_allowed() -> bool:
    return bool(getattr(settings, "KITH_LISTENING_ALLOW_PRIVATE_ADDRESSES", False))


class GuardedSession(requests.Session):
    """A ``requests.Session`` with the address guard, a default timeout and a size cap."""

    def __init__(
        self,
        *,
        timeout: float | None = None,
        max_bytes: int | None = None,
        allow_private: bool | None = None,
    ) -> None:
        super().__init__()
        self.timeout = timeout if timeout is not None else settings.KITH_LISTENING_HTTP_TIMEOUT
        self.max_bytes = (
            max_bytes if max_bytes is not None else settings.KITH_LISTENING_MAX_FETCH_BYTES
        )
        self.allow_private = private_allowed() if allow_private is None else allow_private
        self.max_redirects = MAX_REDIRECTS
        # No proxies, .netrc or CA bundles from the worker's environment: what a source
        # reaches must not depend on the shell the worker was started from.
        self.trust_env = False
        if not self.allow_private:
            adapter = _GuardedAdapter(max_retries=0)
            self.mount("http://", adapter)
            self.mount("https://", adapter)
        self.headers["User-Agent"] = USER_AGENT
        # requests reads a redirect's body itself (to free the connection) with no
        # limit, before our send() sees the response: a response hook runs first.
        self.hooks["response"].append(self._cap_redirect_body)
        self.last_headers: Mapping[str, str] = {}
        self.last_status: int | None = None

    def _cap_redirect_body(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.is_redirect:
            read_capped(response, self.max_bytes, deadline=self.timeout * 2)
        return response

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise SourceError(
                "bad_url", f"Only http and https URLs can be fetched, not {parts.scheme!r}."
            )
        host = parts.hostname or ""
        if not host:
            raise SourceError("bad_url", "The URL has no host.")
        if not self.allow_private and host_is_private(host):
            raise SourceError(
                "private_address",
                f"{host} is a private or local address; set KITH_LISTENING_ALLOW_PRIVATE_ADDRESSES to allow it.",
            )

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        # Called for the first request and again for each redirect (resolve_redirects).
        self.check_url(request.url or "")
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        stream = kwargs.pop("stream", False)
        response = super().send(request, stream=True, **kwargs)
        self.last_headers = response.headers
        self.last_status = response.status_code
        if not stream:
            read_capped(response, self.max_bytes, deadline=self.timeout * 2)
        return response


def read_capped(
    response: requests.Response, max_bytes: int, *, deadline: float | None = None
) -> bytes:
    """Read the body, refusing more than ``max_bytes`` or more than ``deadline`` seconds
    in all (a server dripping bytes defeats a per-read timeout); the body is then
    ``response.content``.

    ``requests`` has no size limit of its own, so the body is read by chunks here and
    handed back as if ``requests`` had read it (``_content``), for the callers (Mastodon.py)
    that use ``response.content`` / ``.json()``.
    """
    if response._content_consumed:
        return response.content
    declared = whole_number(response.headers.get("Content-Length", ""))
    if declared is not None and declared > max_bytes:
        response.close()
        raise SourceError(
            "too_large", f"The response is {declared:,} bytes; the limit is {max_bytes:,}."
        )
    chunks: list[bytes] = []
    size = 0
    started = time.monotonic()
    try:
        for chunk in response.iter_content(_CHUNK):
            if deadline is not None and time.monotonic() - started > deadline:
                raise SourceError("timeout", "The server sent its answer too slowly.")
            size += len(chunk)
            if size > max_bytes:
                raise SourceError(
                    "too_large", f"The response is over the {max_bytes:,} byte limit."
                )
            chunks.append(chunk)
    finally:
        response.close()
    body = b"".join(chunks)
    response._content = body
    response._content_consumed = True
    return body


def make_http(**kwargs: Any) -> GuardedSession:
    """The session a poll uses; one per poll so no cookies or state leak between sources."""
    return GuardedSession(**kwargs)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    seconds = whole_number(value)
    if seconds is not None:
        return float(seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def network_error(exc: Exception) -> SourceError:
    """A ``requests`` failure as the source error the poller shows."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, requests.Timeout):
        return SourceError("timeout", "The server did not answer in time.")
    if isinstance(exc, requests.TooManyRedirects):
        return SourceError("too_many_redirects", f"More than {MAX_REDIRECTS} redirects.")
    if isinstance(exc, requests.exceptions.SSLError):
        return SourceError("tls_error", "The server's TLS certificate could not be verified.")
    if isinstance(exc, requests.ConnectionError):
        return SourceError("unreachable", "The server could not be reached.")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return SourceError("bad_url", "The URL is not valid.")
    return SourceError("fetch_failed", f"The fetch failed ({type(exc).__name__}).")


def status_error(status: int, headers: Mapping[str, str]) -> SourceError:
    """An HTTP error status as a source error, with ``Retry-After`` where it matters."""
    retry_after = parse_retry_after(headers.get("Retry-After"))
    if status == 429:
        return SourceError(
            "rate_limited", "The server asks to slow down (429).", retry_after=retry_after
        )
    if status in (401, 403):
        return SourceError("forbidden", f"The server refused access ({status}).")
    if status in (404, 410):
        return SourceError("not_found", f"Nothing at this URL ({status}).")
    if status >= 500:
        return SourceError(
            "server_error", f"The server failed ({status}).", retry_after=retry_after
        )
    return SourceError("http_error", f"The server answered {status}.")
