"""What staff see and set about the customer portal, on a person's or organisation's page.

A person: whether they have a portal login and through which (verified) address. An
organisation: whether its contacts see all its cases in the portal, with a switch for
admins and managers (the rule itself is ``kith.people.services.set_portal_case_sharing``).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from kith.accounts.models import User
from kith.people import access as people_access
from kith.people import services as people_services
from kith.people.models import Party
from kith.web.decorators import staff_view


def party_panel(request: HttpRequest, party: Party) -> str | None:
    user = request.user
    if not getattr(user, "is_staff_user", False):
        return None
    context: dict = {"party": party, "can_manage": bool(user.sees_everything)}
    if party.kind == Party.Kind.ORGANIZATION:
        context["sharing"] = party.portal_shares_cases
    else:
        login = User.objects.filter(person=party, kind=User.Kind.PORTAL).first()
        if login is None:
            return None
        context["login"] = login
    return render_to_string("portal/_staff_panel.html", context, request=request)


@staff_view
@require_POST
def set_case_sharing(request: HttpRequest, public_id) -> HttpResponse:
    org = people_access.get_party_for_change(request.user, public_id, kind=Party.Kind.ORGANIZATION)
    enabled = request.POST.get("enabled") == "1"
    people_services.set_portal_case_sharing(actor=request.user, organization=org, enabled=enabled)
    messages.success(
        request,
        "Its contacts now see all its cases in the portal."
        if enabled
        else "Its contacts now see only their own cases in the portal.",
    )
    return redirect("people:organization", public_id=org.public_id)
