"""Security headers on every response: a Content-Security-Policy and a Permissions-Policy.

Django's ``SecurityMiddleware`` already sends ``X-Content-Type-Options: nosniff``,
``Referrer-Policy`` and ``Cross-Origin-Opener-Policy``, and ``XFrameOptionsMiddleware``
``X-Frame-Options: DENY``; this adds what Django 5.2 lacks.

The policy allows scripts only from Kith's own static files (no inline ``<script>``, no
``on…=`` attributes, no ``eval``), so injected markup cannot run even if a sanitiser
missed it; images only from Kith itself and ``data:`` URLs, so a post cannot make its
readers' browsers fetch a tracker; no framing (``frame-ancestors``). Inline ``style=""``
attributes stay allowed (``style-src-attr``): templates set a few computed widths and
colours that way, and a style attribute cannot run code.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    """Adds the headers above unless a view set its own (e.g. a stricter one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
