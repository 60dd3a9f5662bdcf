"""The wrapper every staff page of every app shares.

Login first (an htmx request after the session expired loads the login page as a page,
not into a fragment of the old one); then staff only — portal users (customers) have
their own pages and are sent to the portal's home (the same answer for every staff URL,
so no record's existence leaks); anyone else who is not staff gets a 404;
then the view runs in the user's time zone with the audit channel set to "web".
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from kith.core import timezones
from kith.core.context import channel as audit_channel
from kith.core.errors import NotFound


def staff_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a staff page: login, staff only (404 otherwise), user's time zone, web channel."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            if getattr(request, "htmx", False):
                page = request.htmx.current_url_abs_path or request.get_full_path()
                return HttpResponseClientRedirect(redirect_to_login(page).url)
            return redirect_to_login(request.get_full_path())
        if getattr(request.user, "is_portal", False) and request.user.is_active:
            # Customers have their own pages: send them there, telling nothing about
            # the staff page they asked for.
            if getattr(request, "htmx", False):
                return HttpResponseClientRedirect(reverse("portal:home"))
            return redirect("portal:home")
        if not getattr(request.user, "is_staff_user", False):
            raise NotFound("Not found.")
        with audit_channel("web"), timezone.override(timezones.of_user(request.user)):
            return view(request, *args, **kwargs)

    return wrapper
