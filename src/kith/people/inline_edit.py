"""Inline edit of simple fields in the people and organisation lists (htmx).

Click a cell: ``GET`` answers a small form in its place; ``POST`` saves through
``services.update_party`` (the same rules, locks, audit and events as the edit page)
and answers the cell, re-rendered; an error answers the form again with the message
in the cell (422, which the page's htmx config swaps). ``?cancel=1`` gives the cell
back unchanged. Without JavaScript the cell is a plain link to the record's edit page.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from kith.accounts import assignment
from kith.accounts.models import User
from kith.core.errors import Forbidden, NotFound, ValidationFailed
from kith.core.inputs import CleanForm
from kith.people import access, services
from kith.people.models import Party
from kith.people.services import PartyInput
from kith.web.decorators import staff_view

# field name → (label, kinds it applies to)
FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "title": ("Job title", (Party.Kind.PERSON,)),
    "owner": ("Owner", (Party.Kind.PERSON, Party.Kind.ORGANIZATION)),
    "tags": ("Tags", (Party.Kind.PERSON, Party.Kind.ORGANIZATION)),
}


def _owners():
    return User.objects.filter(kind=User.Kind.STAFF, is_active=True).order_by("username")


class InlineForm(CleanForm):
    value = forms.CharField(required=False, max_length=600)

    def __init__(self, *args, field: str, may_clear_owner: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.field_name = field
        self.fields["value"].label = FIELDS[field][0]
        if field == "owner":
            # Only those the hand-over rules let take an owner away see "No owner".
            empty = ("", "No owner") if may_clear_owner else ("", "Choose…")
            self.fields["value"] = forms.ChoiceField(
                label="Owner",
                required=not may_clear_owner,
                choices=[empty] + [(u.username, u.username) for u in _owners()],
            )
        elif field == "title":
            self.fields["value"].max_length = 200


def _current(party: Party, field: str) -> str:
    if field == "owner":
        return party.owner.username if party.owner_id else ""
    if field == "tags":
        return ", ".join(t.name for t in party.tags.all())
    return getattr(party, field) or ""


def _input(party: Party, field: str, value: str) -> PartyInput:
    data = PartyInput(kind=party.kind)
    if field == "owner":
        if not value:
            data.clear_owner = True
            return data
        data.owner = _owners().filter(username=value).first()
        if data.owner is None:
            raise ValidationFailed.single("value", "Choose an active staff user.")
    elif field == "tags":
        data.tags = [t.strip() for t in value.split(",") if t.strip()]
    else:
        data.fields = {field: value.strip()}
    return data


def _cell(request: HttpRequest, party: Party, field: str, **extra: Any) -> dict[str, Any]:
    return {
        "party": party,
        "field": field,
        "label": FIELDS[field][0],
        "value": _current(party, field),
        "tags": list(party.tags.all()) if field == "tags" else [],
        "can_edit": True,
        **extra,
    }


@staff_view
@require_http_methods(["GET", "POST"])
def inline_edit(request: HttpRequest, public_id: uuid.UUID, field: str) -> HttpResponse:
    # The record first: who may not change it learns nothing, whatever the field.
    party = access.get_party_for_change(request.user, public_id)
    if field not in FIELDS or party.kind not in FIELDS[field][1]:
        raise NotFound("No such field.")
    clearing = {"may_clear_owner": assignment.may_give_to_anyone(request.user)}
    if request.method == "GET":
        if request.GET.get("cancel"):
            return render(request, "people/_inline_cell.html", _cell(request, party, field))
        form = InlineForm(initial={"value": _current(party, field)}, field=field, **clearing)
        return render(request, "people/_inline_form.html", _cell(request, party, field, form=form))
    form = InlineForm(request.POST, field=field, **clearing)
    if form.is_valid():
        try:
            party = services.update_party(
                actor=request.user,
                party=party,
                data=_input(party, field, form.cleaned_data["value"] or ""),
            )
        except ValidationFailed as exc:
            # The service names its own field (title, tags…): one input here, so any
            # message belongs to it.
            for error in exc.errors or []:
                form.add_error("value", error.message)
            if not exc.errors:
                form.add_error("value", exc.message)
        except Forbidden as exc:
            form.add_error("value", exc.message)
        else:
            party = Party.objects.select_related("owner").get(pk=party.pk)
            return render(
                request, "people/_inline_cell.html", _cell(request, party, field, saved=True)
            )
    return render(
        request, "people/_inline_form.html", _cell(request, party, field, form=form), status=422
    )
