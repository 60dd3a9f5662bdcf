"""The customer's research surveys in the portal: the list and the answer form (thin).

Only an invited customer who still consents to research sees a survey; anyone else
gets a 404, as for any record that is not theirs.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from kith.core.errors import Conflict, ValidationFailed
from kith.insights import panels

from .views import portal_view


@require_GET
@portal_view
def surveys(request: HttpRequest) -> HttpResponse:
    """The surveys the customer was invited to, open ones first."""
    invitations = panels.invitations_of(request.user)
    return render(request, "portal/surveys.html", {"nav": "surveys", "invitations": invitations})


@require_http_methods(["GET", "POST"])
@portal_view
def survey(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Answer one survey (once)."""
    invitation = panels.invitation_for(request.user, public_id)
    questions = list(invitation.survey.questions.order_by("position"))
    errors: dict[str, str] = {}
    given: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        given = {
            f"q{q.position}": [v[:5000] for v in request.POST.getlist(f"q{q.position}")[:50]]
            for q in questions
        }
        try:
            panels.submit_answers(actor=request.user, invitation=invitation, answers=given)
        except ValidationFailed as exc:
            errors = {e.field: e.message for e in exc.errors}
            status = 422
        except Conflict as exc:
            messages.info(request, exc.message)
            return redirect("portal:surveys")
        else:
            messages.success(request, "Thank you! Your answers were saved.")
            return redirect("portal:surveys")
    rows = [
        {
            "q": q,
            "name": f"q{q.position}",
            "error": errors.get(f"q{q.position}", ""),
            "given": given.get(f"q{q.position}", []),
            "scale": list(range(q.scale_min, q.scale_max + 1)) if q.kind == "scale" else [],
        }
        for q in questions
    ]
    return render(
        request,
        "portal/survey.html",
        {"nav": "surveys", "invitation": invitation, "rows": rows, "errors": errors},
        status=status,
    )
