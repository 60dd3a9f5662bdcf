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
    person = access.staff_person(request.user, public_id)
    with audit_channel("api"):
        return services.export_person(actor=request.user, person=person)
