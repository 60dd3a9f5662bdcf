"""Partner pages: intents customers chose to share with partner organisations (thin).

A partner is a portal user whose Person holds the ``partner`` role
(``kith.collab.access.is_partner``). They see each shared intent's *what* — category,
description, budget, date, place, the customer's terms — never who filed it or how to
reach them, and answer with an offer the customer then compares beside the company's.
Anyone who is not a partner gets 404.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from kith.collab.access import is_partner
from kith.core.errors import KithError, NotFound, ValidationFailed
from kith.portal.views import portal_view

from . import intents


def _require_partner(user) -> None:
    if not is_partner(user):
        raise NotFound("Not found.")


def _context(user, *, errors=None, failed=None, form=None) -> dict:
    rows = intents.for_partners()[:100]
    mine = intents.partner_offers(user, [i.pk for i in rows])
    return {
        "nav": "partner_intents",
        # Only what the intent shares: no person, no contact points.
        "intents": [
            {
                "public_id": i.public_id,
                "pk": i.pk,
                "category": i.category,
                "description": i.description,
                "budget_min": i.budget_min,
                "budget_max": i.budget_max,
                "currency": i.currency,
                "needed_by": i.needed_by,
                "location": i.location,
                "terms": i.terms,
                "expires_at": i.expires_at,
                "own": i.person_id == user.person_id,
                "my_offers": mine.get(i.pk, []),
            }
            for i in rows
        ],
        "errors": errors or {},
        "failed": failed,
        "form": form or {},
    }


@require_GET
@portal_view
def partner_intents(request: HttpRequest) -> HttpResponse:
    """Open intents shared with partners, each with the partner's own offers and a form."""
    _require_partner(request.user)
    return render(request, "cmr/partner_intents.html", _context(request.user))


@require_POST
@portal_view
def partner_offer(request: HttpRequest, intent_id) -> HttpResponse:
    """Answer one shared intent with an offer."""
    _require_partner(request.user)
    intent = intents.partner_intent(request.user, intent_id)
    post = request.POST
    try:
        valid = post.get("valid_until", "")
        try:
            valid_until = dt.date.fromisoformat(valid) if valid else None
        except ValueError as exc:
            raise ValidationFailed.single("valid_until", "Give a date like 2026-12-31.") from exc
        intents.make_partner_offer(
            actor=request.user,
            intent=intent,
            data=intents.OfferInput(
                title=post.get("title", "")[:200],
                price=post.get("price", "")[:20],
                description=post.get("description", "")[:4000],
                currency=post.get("currency", "")[:3],
                valid_until=valid_until,
            ),
        )
    except KithError as exc:
        if exc.status in (403, 404):
            raise
        return render(
            request,
            "cmr/partner_intents.html",
            _context(
                request.user,
                errors={e.field: e.message for e in exc.errors} or {"title": exc.message},
                failed=intent.public_id,
                form=post,
            ),
            status=exc.status,
        )
    messages.success(request, "Your offer was sent. The customer will compare and decide.")
    return redirect(reverse("cmr:partner_intents") + f"#intent-{intent.public_id}")
