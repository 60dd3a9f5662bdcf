"""Security headers on every kind of response, and no inline script in any template.

The Content-Security-Policy forbids inline scripts and ``on…=`` handlers; the template
scan below fails the build when a template brings one back (it would be dead in the
browser, and a hole if the policy were ever relaxed).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from kith.core.headers import CONTENT_SECURITY_POLICY

SRC = Path(__file__).resolve().parents[2] / "src" / "kith"
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"""<[^>]*\son[a-z]+\s*=\s*["'{]""", re.IGNORECASE | re.DOTALL)
SCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)


def _directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def test_policy_forbids_inline_script_remote_images_and_framing():
    policy = _directives(CONTENT_SECURITY_POLICY)
    assert policy["script-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert not any("unsafe" in v for v in policy["script-src"] + policy["default-src"])


def _assert_security_headers(response, *, static: bool = False) -> None:
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, response
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    if not static:  # WhiteNoise answers before Django's X-Frame-Options middleware;
        assert response["X-Frame-Options"] == "DENY"  # frame-ancestors covers files


@pytest.mark.parametrize(
    "path",
    ["/login/", "/people/", "/no-such-page/", "/api/me", "/api/nope", "/static/kith/kith.js"],
)
def test_every_kind_of_response_carries_the_headers(alice, path):
    client = Client()
    client.force_login(alice)
    _assert_security_headers(client.get(path), static=path.startswith("/static/"))


def test_anonymous_and_api_error_responses_carry_the_headers(db):
    _assert_security_headers(Client().get("/api/people"))  # 401
    _assert_security_headers(Client().get("/login/"))


def _templates() -> list[Path]:
    return sorted(SRC.glob("*/templates/**/*.html"))


def test_the_scan_sees_the_templates_and_catches_what_it_should():
    assert len(_templates()) > 50
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/x.js" defer></script>')
    assert INLINE_HANDLER.search('<select name="p" onchange="this.form.submit()">')
    assert INLINE_HANDLER.search("<form\n  onsubmit='return confirm()'>")
    assert not INLINE_HANDLER.search('<p class="one">online</p>')
    assert SCRIPT_URL.search('<a href="javascript:void(0)">')


def test_no_template_has_inline_script_or_event_handlers():
    offenders = []
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, SCRIPT_URL):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(SRC)}:{line}: {match.group(0)[:80]}")
    assert not offenders, "inline script is blocked by the CSP; use a static file:\n" + "\n".join(
        offenders
    )
