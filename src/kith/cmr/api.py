"""HTTP API for kith.cmr (thin: parse, check access, call a service or query, serialise).

``/api/cmr/me/...`` is the signed-in customer's own data (portal session; anybody else
gets 404). ``/api/people/{id}/consents`` (and ``consent-receipts``, ``contact-preferences``)
are the staff view of one person, scoped by
``kith.people.access``. Receipts come with their compact JWS; the public key is at
``/.well-known/jwks.json``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from pydantic import ConfigDict

from kith.core.context import channel as audit_channel
from kith.core.inputs import BoundedList, CleanStr, InputSchema, WallTime

from . import access, queries, services
from .models import Source

router = Router(tags=["cmr"])


class PurposeOut(Schema):
    key: str
    name: str
    text: str
    category: str
    consent_type: str
    default_granted: bool
    third_party_disclosure: bool


class ConsentStateOut(Schema):
    purpose: str
    name: str
    channel: str
    granted: bool
    explicit: bool
    changed_at: dt.datetime | None
    source: str


class ConsentIn(InputSchema):
    purpose: CleanStr = Field(..., max_length=60)
    granted: bool
    channel: CleanStr = Field("any", max_length=10)
    text_shown: CleanStr | None = Field(None, max_length=4000)


class StaffConsentIn(ConsentIn):
    source: CleanStr = Field("staff", max_length=10, description="staff, import or api")


class ReceiptOut(Schema):
    id: uuid.UUID
    purpose: str
    channel: str
    granted: bool
    source: str
    text_shown: str
    occurred_at: dt.datetime
    actor: str | None
    receipt: dict
    jws: str


class ReceiptPage(Schema):
    items: list[ReceiptOut]


class PreferencesIO(InputSchema):
    channels: BoundedList(CleanStr, 8) = ["email"]  # type: ignore[valid-type]
    max_per_day: int | None = Field(None, ge=0, le=1000)
    max_per_week: int | None = Field(None, ge=0, le=1000)
    muted_topics: BoundedList(CleanStr, 20) = []  # type: ignore[valid-type]
    quiet_start: WallTime | None = None
    quiet_end: WallTime | None = None
    timezone: CleanStr = Field("", max_length=64)


def _receipt_out(r) -> dict:
    return {
        "id": r.public_id,
        "purpose": r.purpose.key,
        "channel": r.channel,
        "granted": r.granted,
        "source": r.source,
        "text_shown": r.text_shown,
        "occurred_at": r.occurred_at,
        "actor": queries.actor_label(r),
        "receipt": r.receipt,
        "jws": r.jws,
    }


def _jwt_response(receipt) -> HttpResponse:
    response = HttpResponse(receipt.jws, content_type="application/jwt")
    response["Content-Disposition"] = (
        f'attachment; filename="consent-receipt-{receipt.public_id}.jwt"'
    )
    return response


def _prefs_input(body: PreferencesIO) -> services.PreferenceInput:
    return services.PreferenceInput(**body.model_dump())


@router.get("/cmr/purposes", response=list[PurposeOut])
def list_purposes(request: HttpRequest):
    """The purposes a person may consent to (public vocabulary)."""
    return list(queries.purposes())


# ---------------------------------------------------------------- the customer's own


@router.get("/cmr/me/consents", response=list[ConsentStateOut])
def my_consents(request: HttpRequest):
    person = access.own_person(request.user)
    return queries.consent_state(person)


@router.post("/cmr/me/consents", response={201: ReceiptOut})
def change_my_consent(request: HttpRequest, body: ConsentIn):
    """Grant or withdraw a consent; answers the signed receipt."""
    person = access.own_person(request.user)
    with audit_channel("api"):
        receipt = services.set_consent(
            actor=request.user,
            person=person,
            purpose=body.purpose,
            granted=body.granted,
            channel=body.channel,
            source=Source.PORTAL,
            text_shown=body.text_shown,
        )
    return Status(201, _receipt_out(receipt))


@router.get("/cmr/me/receipts", response=ReceiptPage)
def my_receipts(request: HttpRequest):
    person = access.own_person(request.user)
    return {"items": [_receipt_out(r) for r in queries.receipts(person)]}


@router.get("/cmr/me/receipts/{receipt_id}", response=ReceiptOut)
def my_receipt(request: HttpRequest, receipt_id: str):
    person = access.own_person(request.user)
    return _receipt_out(access.receipt_of(person, receipt_id))


@router.get("/cmr/me/receipts/{receipt_id}/jwt")
def my_receipt_jwt(request: HttpRequest, receipt_id: str):
    """The receipt as a compact JWS file (``application/jwt``)."""
    person = access.own_person(request.user)
    return _jwt_response(access.receipt_of(person, receipt_id))


@router.get("/cmr/me/preferences", response=PreferencesIO)
def my_preferences(request: HttpRequest):
    return queries.preferences(access.own_person(request.user))


@router.put("/cmr/me/preferences", response=PreferencesIO)
def set_my_preferences(request: HttpRequest, body: PreferencesIO):
    person = access.own_person(request.user)
    with audit_channel("api"):
        services.set_preferences(actor=request.user, person=person, data=_prefs_input(body))
    return queries.preferences(person)


@router.get("/cmr/me/export", response=dict)
def my_export(request: HttpRequest):
    """Everything Kith holds about you, as the versioned JSON of ``/api/cmr/export-schema``."""
    person = access.own_person(request.user)
    with audit_channel("api"):
        return services.export_person(actor=request.user, person=person)


@router.get("/cmr/me/vcard")
def my_vcard(request: HttpRequest):
    """Your name and contact points as a vCard."""
    return _vcard_response(access.own_person(request.user))


@router.get("/cmr/export-schema", response=dict)
def export_schema(request: HttpRequest):
    """The JSON Schema of the export document (versioned by its ``$id``)."""
    return queries.export_schema()


def _vcard_response(person) -> HttpResponse:
    from . import export

    response = HttpResponse(export.vcard(person), content_type="text/vcard; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{person.public_id}.vcf"'
    return response


# ---------------------------------------------------------------- staff


@router.get("/people/{public_id}/consents", response=list[ConsentStateOut])
def person_consents(request: HttpRequest, public_id: str):
    return queries.consent_state(access.staff_person(request.user, public_id))


@router.post("/people/{public_id}/consents", response={201: ReceiptOut})
def record_consent(request: HttpRequest, public_id: str, body: StaffConsentIn):
    """Record a consent given or withdrawn outside the portal (on the phone, an import)."""
    person = access.staff_person_for_change(request.user, public_id)
    if body.source not in (Source.STAFF, Source.IMPORT, Source.API):
        from kith.core.errors import ValidationFailed

        raise ValidationFailed.single("source", "Must be staff, import or api.")
    with audit_channel("api"):
        receipt = services.set_consent(
            actor=request.user,
            person=person,
            purpose=body.purpose,
            granted=body.granted,
            channel=body.channel,
            source=body.source,
            text_shown=body.text_shown,
        )
    return Status(201, _receipt_out(receipt))


@router.get("/people/{public_id}/consent-receipts", response=ReceiptPage)
def person_receipts(request: HttpRequest, public_id: str):
    person = access.staff_person(request.user, public_id)
    return {"items": [_receipt_out(r) for r in queries.receipts(person)]}


@router.get("/people/{public_id}/contact-preferences", response=PreferencesIO)
def person_preferences(request: HttpRequest, public_id: str):
    return queries.preferences(access.staff_person(request.user, public_id))


@router.get("/people/{public_id}/export", response=dict)
def person_export(request: HttpRequest, public_id: str):
    """Everything held about one person (staff; the export is audited)."""
    from . import transparency

    person = access.staff_person(request.user, public_id)
    transparency.record_read(request, person, "export")
    with audit_channel("api"):
        return services.export_person(actor=request.user, person=person)


# ---------------------------------------------------------------- transparency, correction, erasure


class LogEntryOut(Schema):
    occurred_at: dt.datetime
    kind: str = Field(..., description="read or change")
    who: str
    what: str
    why: str
    channel: str


class LogPage(Schema):
    items: list[LogEntryOut]


class CorrectionIn(InputSchema):
    model_config = ConfigDict(extra="forbid")
    field: CleanStr = Field(..., max_length=40, description="a profile field or contact_point")
    value: CleanStr = Field(..., max_length=500)
    contact_point: uuid.UUID | None = Field(None, description="which one, for contact_point")
    note: CleanStr = Field("", max_length=2000)


class DecisionIn(InputSchema):
    model_config = ConfigDict(extra="forbid")
    accept: bool
    reason: CleanStr = Field("", max_length=2000)


class ReasonIn(InputSchema):
    model_config = ConfigDict(extra="forbid")
    reason: CleanStr = Field(..., min_length=1, max_length=2000)


class CorrectionOut(Schema):
    id: uuid.UUID
    person: uuid.UUID
    field: str
    contact_point: uuid.UUID | None
    current_value: str
    proposed_value: str
    note: str
    status: str
    reason: str
    created_at: dt.datetime
    decided_at: dt.datetime | None


class CorrectionPage(Schema):
    items: list[CorrectionOut]


class HoldOut(Schema):
    code: str
    message: str


class ErasureOut(Schema):
    id: uuid.UUID
    person: uuid.UUID
    status: str
    holds: list[HoldOut]
    reason: str
    created_at: dt.datetime
    decided_at: dt.datetime | None


class ErasurePage(Schema):
    items: list[ErasureOut]


def _log_out(person, viewer) -> dict:
    from . import transparency

    return {"items": [vars(e) for e in transparency.entries_for(person, viewer=viewer)]}


def _correction_out(r) -> dict:
    return {
        "id": r.public_id,
        "person": r.person.public_id,
        "field": r.field,
        "contact_point": r.contact_point.public_id if r.contact_point_id else None,
        "current_value": r.current_value,
        "proposed_value": r.proposed_value,
        "note": r.note,
        "status": r.status,
        "reason": r.reason,
        "created_at": r.created_at,
        "decided_at": r.decided_at,
    }


def _erasure_out(r) -> dict:
    return {
        "id": r.public_id,
        "person": r.person.public_id,
        "status": r.status,
        "holds": r.holds or [],
        "reason": r.reason,
        "created_at": r.created_at,
        "decided_at": r.decided_at,
    }


def _corrections(qs) -> dict:
    rows = qs.select_related("person", "contact_point")[:200]
    return {"items": [_correction_out(r) for r in rows]}


@router.get("/cmr/me/transparency", response=LogPage)
def my_transparency(request: HttpRequest):
    """Who at the company looked at or changed your record, when and why."""
    return _log_out(access.own_person(request.user), request.user)


@router.get("/cmr/me/corrections", response=CorrectionPage)
def my_corrections(request: HttpRequest):
    from .models import CorrectionRequest

    return _corrections(CorrectionRequest.objects.filter(person=access.own_person(request.user)))


@router.post("/cmr/me/corrections", response={201: CorrectionOut})
def propose_correction(request: HttpRequest, body: CorrectionIn):
    """Propose a new value for a field of your profile or a contact point; fields the
    company allows are changed at once (status ``applied``)."""
    from . import correction

    person = access.own_person(request.user)
    with audit_channel("api"):
        req = correction.propose(
            actor=request.user,
            person=person,
            field=body.field,
            value=body.value,
            contact_point=body.contact_point,
            note=body.note,
        )
    return Status(201, _correction_out(req))


@router.get("/cmr/me/corrections/{request_id}", response=CorrectionOut)
def my_correction(request: HttpRequest, request_id: str):
    from . import correction

    return _correction_out(correction.request_of(access.own_person(request.user), request_id))


@router.get("/cmr/me/erasure", response=ErasurePage)
def my_erasure_requests(request: HttpRequest):
    from .models import ErasureRequest

    person = access.own_person(request.user)
    rows = ErasureRequest.objects.filter(person=person).select_related("person")[:50]
    return {"items": [_erasure_out(r) for r in rows]}


@router.post("/cmr/me/erasure", response={201: ErasureOut})
def request_my_erasure(request: HttpRequest):
    """Ask to be erased; the answer lists what the law makes us keep for now (holds)."""
    from . import erasure

    person = access.own_person(request.user)
    with audit_channel("api"):
        req = erasure.request_erasure(actor=request.user, person=person)
    return Status(201, _erasure_out(req))


@router.get("/people/{public_id}/transparency", response=LogPage)
def person_transparency(request: HttpRequest, public_id: str):
    """Reads and changes of this person's record (staff who may see the person)."""
    return _log_out(access.staff_person(request.user, public_id), request.user)


@router.get("/people/{public_id}/corrections", response=CorrectionPage)
def person_corrections(request: HttpRequest, public_id: str):
    from .models import CorrectionRequest

    person = access.staff_person(request.user, public_id)
    return _corrections(CorrectionRequest.objects.filter(person=person))


@router.get("/cmr/corrections", response=CorrectionPage)
def correction_inbox(request: HttpRequest, status: str = "pending"):
    """Correction requests waiting for staff, of the people the caller may see."""
    from kith.core.errors import ValidationFailed
    from kith.people import access as people_access

    from .models import CorrectionRequest, RequestStatus

    people_access.require_staff(request.user)
    if status not in RequestStatus.values:
        raise ValidationFailed.single("status", f"One of {', '.join(RequestStatus.values)}.")
    visible = people_access.staff_scope(request.user).values("pk")
    qs = CorrectionRequest.objects.filter(status=status, person__in=visible)
    return _corrections(qs)


@router.post("/cmr/corrections/{request_id}/decision", response=CorrectionOut)
def decide_correction(request: HttpRequest, request_id: str, body: DecisionIn):
    """Accept (the value is applied) or reject (with a reason) a correction request."""
    from . import correction

    req = access.correction_for_staff(request.user, request_id, change=True)
    with audit_channel("api"):
        req = correction.decide(
            actor=request.user, request=req, accept=body.accept, reason=body.reason
        )
    return _correction_out(req)


@router.get("/people/{public_id}/erasure-requests", response=ErasurePage)
def person_erasure_requests(request: HttpRequest, public_id: str):
    from .models import ErasureRequest

    person = access.staff_person(request.user, public_id)
    rows = ErasureRequest.objects.filter(person=person).select_related("person")
    return {"items": [_erasure_out(r) for r in rows[:50]]}


@router.post("/people/{public_id}/erasure", response=ErasureOut)
def erase_person(request: HttpRequest, public_id: str):
    """Erase this person now (roles in ``KITH_CMR_ERASURE_ROLES``). Refused with the
    legal holds when there are any; 409 for a person erased already."""
    from . import erasure

    person = access.staff_person(request.user, public_id)
    with audit_channel("api"):
        return _erasure_out(erasure.erase_now(actor=request.user, person=person))


@router.post("/cmr/erasure-requests/{request_id}/process", response=ErasureOut)
def process_erasure_request(request: HttpRequest, request_id: str):
    """Check the holds again and erase, or refuse with them."""
    from . import erasure

    req = access.erasure_for_staff(request.user, request_id)
    with audit_channel("api"):
        return _erasure_out(erasure.process_erasure(actor=request.user, request=req))


@router.post("/cmr/erasure-requests/{request_id}/refuse", response=ErasureOut)
def refuse_erasure_request(request: HttpRequest, request_id: str, body: ReasonIn):
    from . import erasure

    req = access.erasure_for_staff(request.user, request_id)
    with audit_channel("api"):
        return _erasure_out(
            erasure.refuse_erasure(actor=request.user, request=req, reason=body.reason)
        )
