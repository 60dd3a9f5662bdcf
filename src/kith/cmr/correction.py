"""Correction requests: the customer proposes a new value, staff accept or reject it.

A customer may propose a change to a profile field (``PROFILE_FIELDS``) or to one of
their contact points. Fields the company lets customers edit themselves
(``KITH_CMR_CUSTOMER_EDITABLE_FIELDS``; ``contact_point`` included there lets them edit
contact points) are applied at once, with the request kept as the record (``applied``).
Everything else waits in the staff inbox; accepting applies the value through
``kith.people.services`` (its validation, audit entry, search index and event), and
rejecting needs a reason the customer reads. Every step is audited, lands on the
person's timeline as a portal interaction and emits an outbox event.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kith.core import audit, events
from kith.core.errors import Conflict, NotFound, ValidationFailed
from kith.people import services as people_services
from kith.people.models import ContactPoint, Party

from .models import CorrectionRequest, RequestStatus

PROFILE_FIELDS = {
    "given_name": "Given name",
    "family_name": "Family name",
    "display_name": "Name as shown",
    "title": "Job title",
    "locale": "Language",
    "timezone": "Time zone",
    "birthday": "Birthday",
}
CONTACT_POINT = "contact_point"
MAX_VALUE = 500
MAX_NOTE = 2000


def field_choices() -> dict[str, str]:
    return {**PROFILE_FIELDS, CONTACT_POINT: "A contact point (e-mail, phone…)"}


def editable_directly(field: str) -> bool:
    return field in settings.KITH_CMR_CUSTOMER_EDITABLE_FIELDS


def _point_of(person: Party, point_id) -> ContactPoint:
    try:
        pid = point_id if isinstance(point_id, uuid.UUID) else uuid.UUID(str(point_id))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed.single(
            "contact_point", "Choose one of your contact points."
        ) from exc
    point = ContactPoint.objects.filter(party=person, public_id=pid).first()
    if point is None:
        raise ValidationFailed.single("contact_point", "Choose one of your contact points.")
    return point


def _current(person: Party, field: str, point: ContactPoint | None) -> str:
    if point is not None:
        return point.value
    value = getattr(person, field)
    return "" if value is None else str(value)


def _timeline(person: Party, *, actor, summary: str) -> None:
    from kith.interactions import services as interaction_services

    interaction_services.log_interaction(
        actor=actor, party=person, channel="portal", kind="correction", summary=summary[:300]
    )


def _apply(req: CorrectionRequest, *, actor) -> None:
    """Write the proposed value through the people services (their rules and audit)."""
    person = Party.objects.get(pk=req.person_id)
    if req.field == CONTACT_POINT:
        if req.contact_point_id is None:
            raise Conflict("That contact point no longer exists.")
        point = ContactPoint.objects.get(pk=req.contact_point_id)
        people_services.update_contact_point(actor=actor, point=point, value=req.proposed_value)
        return
    people_services.update_party(
        actor=actor,
        party=person,
        data=people_services.PartyInput(
            kind=person.kind, fields={req.field: req.proposed_value or None}
        ),
    )


def propose(
    *,
    actor,
    person: Party,
    field: str,
    value: str,
    contact_point=None,
    note: str = "",
) -> CorrectionRequest:
    """The customer proposes ``value`` for ``field``; applied at once when the company
    allows editing it directly, otherwise waiting for staff."""
    if field not in field_choices():
        raise ValidationFailed.single(
            "field", f"Unknown field; one of {', '.join(sorted(field_choices()))}."
        )
    value = " ".join(str(value or "").split())
    if len(value) > MAX_VALUE:
        raise ValidationFailed.single("value", f"At most {MAX_VALUE} characters.")
    if not value and field in ("given_name", "display_name", CONTACT_POINT):
        raise ValidationFailed.single("value", "Give the new value.")
    note = str(note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationFailed.single("note", f"At most {MAX_NOTE} characters.")
    point = _point_of(person, contact_point) if field == CONTACT_POINT else None
    if person.status == Party.Status.ERASED:
        raise Conflict("This person was erased.")
    current = _current(person, field, point)
    if value == current:
        raise ValidationFailed.single("value", "That is already the value we hold.")
    direct = editable_directly(field)
    label = field_choices()[field]
    with transaction.atomic():
        req = CorrectionRequest.objects.create(
            person=person,
            requested_by=actor if getattr(actor, "pk", None) else None,
            field=field,
            contact_point=point,
            current_value=current,
            proposed_value=value,
            note=note,
        )
        if direct:
            _apply(req, actor=actor)
            req.status = RequestStatus.APPLIED
            req.decided_at = timezone.now()
            req.save(update_fields=["status", "decided_at", "updated_at"])
        audit.record(
            actor=actor,
            action="correction.applied" if direct else "correction.requested",
            obj=req,
            changes={"field": [None, field]},
            party_id=person.pk,
        )
        events.emit(
            "correction.applied" if direct else "correction.requested",
            obj=req,
            actor=actor,
            data={"person": str(person.public_id), "field": field},
        )
        _timeline(
            person,
            actor=actor,
            summary=f"{'Corrected' if direct else 'Asked to correct'} {label.lower()}",
        )
    return req


def decide(
    *, actor, request: CorrectionRequest, accept: bool, reason: str = ""
) -> CorrectionRequest:
    """Staff accept (the value is applied) or reject (a reason is required) a request."""
    reason = " ".join(str(reason or "").split())[:MAX_NOTE]
    if not accept and not reason:
        raise ValidationFailed.single("reason", "Say why the correction is rejected.")
    with transaction.atomic():
        req = CorrectionRequest.objects.select_for_update().get(pk=request.pk)
        if req.status != RequestStatus.PENDING:
            raise Conflict(f"This request was {req.get_status_display().lower()} already.")
        if accept:
            _apply(req, actor=actor)
        req.status = RequestStatus.ACCEPTED if accept else RequestStatus.REJECTED
        req.decided_by = actor if getattr(actor, "pk", None) else None
        req.decided_at = timezone.now()
        req.reason = reason
        req.save(update_fields=["status", "decided_by", "decided_at", "reason", "updated_at"])
        name = "correction.accepted" if accept else "correction.rejected"
        audit.record(
            actor=actor,
            action=name,
            obj=req,
            changes={"status": [RequestStatus.PENDING, req.status]},
            party_id=req.person_id,
        )
        events.emit(name, obj=req, actor=actor, data={"field": req.field})
        label = field_choices().get(req.field, req.field).lower()
        _timeline(
            Party.objects.get(pk=req.person_id),
            actor=actor,
            summary=f"Correction of {label} {'accepted' if accept else 'rejected'}",
        )
    return req


def request_of(person: Party, public_id) -> CorrectionRequest:
    """One of ``person``'s correction requests, or 404."""
    try:
        pid = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("No such request.") from exc
    found = CorrectionRequest.objects.filter(person=person, public_id=pid).first()
    if found is None:
        raise NotFound("No such request.")
    return found
