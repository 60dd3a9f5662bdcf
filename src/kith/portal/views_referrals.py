"""The customer's referral code and link, and the public referral link (thin).

``/portal/r/<code>/`` needs no login: it counts the visit, remembers the code in the
session and opens the sign-up with it filled in; an unknown, revoked or expired code
is a 404 page that says so. ``/portal/referrals/`` shows a signed-in customer their
code, link and how many people joined through them (counts and dates, never names:
who signed up is theirs to tell).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from kith.core.errors import Conflict, ValidationFailed
from kith.insights import referrals
from kith.insights.models_value import ReferralCode

from .views import portal_view

SESSION_KEY = "referral_code"


@never_cache
@require_GET
def referral_link(request: HttpRequest, code: str) -> HttpResponse:
    """The shared link: count the visit, keep the code, go to the sign-up."""
    try:
        found = referrals.record_visit(code=code)
    except ValidationFailed as exc:
        return render(
            request,
            "portal/referral_invalid.html",
            {"message": exc.errors[0].message if exc.errors else exc.message},
            status=404,
        )
    request.session[SESSION_KEY] = found.code
    return redirect(f"{reverse('portal:signup')}?ref={found.code}")


@require_http_methods(["GET", "POST"])
@portal_view
def my_referrals(request: HttpRequest) -> HttpResponse:
    """The customer's code and link (made on request), and how many joined through it."""
    person = request.user.person
    if request.method == "POST":
        try:
            referrals.code_for(actor=request.user, person=person)
        except Conflict as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Your referral link is ready to share.")
        return redirect("portal:referrals")
    code = ReferralCode.objects.filter(party=person).first()
    link = (
        request.build_absolute_uri(reverse("portal:referral_link", args=[code.code]))
        if code
        else ""
    )
    return render(
        request,
        "portal/referrals.html",
        {
            "nav": "referrals",
            "code": code,
            "link": link,
            "summary": referrals.referred_summary(person),
        },
    )
