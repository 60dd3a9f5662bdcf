"""Maps ``KithError`` raised in web views to a rendered error page (the API maps its own)."""

from __future__ import annotations

from django.http import HttpResponsePermanentRedirect
from django.shortcuts import render

from kith.core.errors import SAFE_METHODS, KithError, Moved


class KithErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if request.path.startswith("/api/") or not isinstance(exception, KithError):
            return None
        if isinstance(exception, Moved) and request.method not in SAFE_METHODS:
            # A form posted to a merged record: say so (409) rather than redirect and
            # drop the change without a word.
            exception = exception.as_conflict()
        elif isinstance(exception, Moved) and exception.location:
            return HttpResponsePermanentRedirect(exception.location)
        # Customers see errors in their own (portal) layout, everyone else in the staff one.
        customer = getattr(getattr(request, "user", None), "is_portal", False)
        template = "portal/error.html" if customer else "web/error.html"
        return render(request, template, {"error": exception}, status=exception.status)
