"""X-Forwarded-* are believed only from KITH_TRUSTED_PROXIES (kith.core.proxies)."""

from __future__ import annotations

import pytest
from django.http import HttpResponse

from kith.core.proxies import TrustedProxyMiddleware, client_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1"])


@pytest.mark.parametrize(
    ("peer", "chain", "expected"),
    [
        ("198.51.100.1", "1.2.3.4", "198.51.100.1"),  # not a proxy: the header is a lie
        ("127.0.0.1", "192.0.2.5", "192.0.2.5"),
        ("127.0.0.1", "6.6.6.6, 192.0.2.5", "192.0.2.5"),  # left part written by the client
        ("127.0.0.1", "6.6.6.6, 192.0.2.5, 10.1.1.1", "192.0.2.5"),  # two proxies
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "not-an-ip", "127.0.0.1"),
        ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address(peer, chain, expected):
    assert client_address(peer, chain, PROXIES) == expected


def test_no_trusted_proxies_means_the_peer_and_no_forwarded_headers(rf, settings):
    settings.KITH_TRUSTED_PROXIES = []
    seen = {}

    def view(request):
        seen.update(request.META)
        return HttpResponse()

    request = rf.get(
        "/",
        REMOTE_ADDR="198.51.100.1",
        HTTP_X_FORWARDED_FOR="1.2.3.4",
        HTTP_X_FORWARDED_PROTO="https",
    )
    TrustedProxyMiddleware(view)(request)
    assert seen["REMOTE_ADDR"] == "198.51.100.1"
    assert "HTTP_X_FORWARDED_FOR" not in seen and "HTTP_X_FORWARDED_PROTO" not in seen


def test_a_trusted_proxy_sets_the_client_and_scheme(rf, settings):
    settings.KITH_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    seen = {}

    def view(request):
        seen.update(addr=request.META["REMOTE_ADDR"], secure=request.is_secure())
        return HttpResponse()

    TrustedProxyMiddleware(view)(
        rf.get(
            "/",
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="192.0.2.9",
            HTTP_X_FORWARDED_PROTO="https",
        )
    )
    assert seen == {"addr": "192.0.2.9", "secure": True}
    # The same headers from a client that is not a proxy: ignored, not https.
    TrustedProxyMiddleware(view)(
        rf.get(
            "/",
            REMOTE_ADDR="192.0.2.1",
            HTTP_X_FORWARDED_FOR="10.0.0.5",
            HTTP_X_FORWARDED_PROTO="https",
        )
    )
    assert seen == {"addr": "192.0.2.1", "secure": False}


def test_a_bad_proxy_setting_stops_the_start(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "KITH_DATA_DIR": str(tmp_path), "KITH_TRUSTED_PROXIES": "10.0.0.0/33"}
    run = subprocess.run(
        [sys.executable, "-c", "import kith.settings"], capture_output=True, text=True, env=env
    )
    assert run.returncode != 0 and "KITH_TRUSTED_PROXIES" in run.stderr
