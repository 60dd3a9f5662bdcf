"""Who the client is: ``X-Forwarded-*`` count only when a trusted proxy sent them.

Anyone can send ``X-Forwarded-For: 1.2.3.4``. Believing it from any client lets one
attacker look like endless addresses (and so escape the login throttle) or pin failures
on a victim's address. ``KITH_TRUSTED_PROXIES`` lists the proxies (addresses or networks,
e.g. ``127.0.0.1,10.0.0.0/8``) in front of Kith; by default there are none, and the
headers are ignored.

For a request from a trusted proxy, ``REMOTE_ADDR`` becomes the client it forwarded for:
the right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy (entries
further left were written by the client and prove nothing). ``X-Forwarded-Proto`` is
kept only from a trusted proxy, so ``SECURE_PROXY_SSL_HEADER`` (set in settings when
proxies are configured) cannot be spoofed. ``kith serve`` runs uvicorn with its own
proxy-header handling off, so this is the one place that decides.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """``["127.0.0.1", "10.0.0.0/8"]`` → networks; raises ValueError on a bad entry."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


@lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(values)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(remote_addr: str, forwarded_for: str, networks: tuple[Network, ...]) -> str:
    """The client's address given the socket peer and the ``X-Forwarded-For`` chain."""
    if not networks or not _is_trusted(remote_addr, networks):
        return remote_addr
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop.strip("[]")))
            except ValueError:
                return remote_addr  # garbage in the chain: do not believe any of it
    return hops[0] if hops else remote_addr


class TrustedProxyMiddleware:
    """First in the stack: fix ``REMOTE_ADDR`` and drop forwarded headers nobody trusted."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        networks = _networks(tuple(settings.KITH_TRUSTED_PROXIES))
        meta = request.META
        peer = meta.get("REMOTE_ADDR", "")
        if networks and _is_trusted(peer, networks):
            meta["REMOTE_ADDR"] = client_address(
                peer, meta.get("HTTP_X_FORWARDED_FOR", ""), networks
            )
        else:
            for header in FORWARDED_HEADERS:
                meta.pop(header, None)
        return self.get_response(request)
