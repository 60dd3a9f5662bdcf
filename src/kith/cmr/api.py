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


# ---------------------------------------------------------------- terms the customer proffers


class TermDefOut(Schema):
    id: str
    name: str
    text: str
    params: list[str]


class TermIn(InputSchema):
    model_config = ConfigDict(extra="forbid")
    id: CleanStr = Field(..., max_length=60)
    months: int | None = Field(None, description="for delete_after_inactivity")


class TermsIn(InputSchema):
    model_config = ConfigDict(extra="forbid")
    terms: BoundedList(TermIn, 10)  # type: ignore[valid-type]


class AgreementOut(Schema):
    id: uuid.UUID
    proffered: list[dict]
    terms: list[dict]
    status: str
    note: str
    source: str
    decided_at: dt.datetime | None
    record: dict
    jws: str


class AgreementPage(Schema):
    in_force: list[dict]
    items: list[AgreementOut]


class CounterIn(InputSchema):
    model_config = ConfigDict(extra="forbid")
    accept: bool


def _agreement_out(a) -> dict:
    return {
        "id": a.public_id,
        "proffered": a.proffered,
        "terms": a.terms,
        "status": a.status,
        "note": a.note,
        "source": a.source,
        "decided_at": a.decided_at,
        "record": a.record,
        "jws": a.jws,
    }


def _agreements(person) -> dict:
    from . import terms
    from .models import TermsAgreement

    rows = TermsAgreement.objects.filter(person=person)[:50]
    return {
        "in_force": list(terms.in_force(person).values()),
        "items": [_agreement_out(a) for a in rows],
    }


def _terms_payload(body: TermsIn) -> list[dict]:
    return [t.model_dump(exclude_none=True) for t in body.terms]


@router.get("/cmr/terms", response=list[TermDefOut])
def terms_roster(request: HttpRequest):
    """The standard terms a customer may proffer (public vocabulary)."""
    from . import terms

    return terms.roster()


@router.get("/cmr/me/terms", response=AgreementPage)
def my_terms(request: HttpRequest):
    """Your terms in force and every agreement (each signed; verify with the JWKS)."""
    return _agreements(access.own_person(request.user))


@router.post("/cmr/me/terms", response={201: AgreementOut})
def proffer_my_terms(request: HttpRequest, body: TermsIn):
    """Proffer your terms (an empty list: none); the company accepts or counter-offers."""
    from . import terms

    person = access.own_person(request.user)
    with audit_channel("api"):
        agreement = terms.proffer(
            actor=request.user, person=person, terms=_terms_payload(body), source=Source.PORTAL
        )
    return Status(201, _agreement_out(agreement))


@router.post("/cmr/me/terms/{agreement_id}/counter", response=AgreementOut)
def answer_my_counter(request: HttpRequest, agreement_id: str, body: CounterIn):
    """Take or decline the company's counter-offer."""
    from . import terms

    person = access.own_person(request.user)
    with audit_channel("api"):
        agreement = terms.answer_counter(
            actor=request.user, person=person, agreement_id=agreement_id, accept=body.accept
        )
    return _agreement_out(agreement)


@router.get("/people/{public_id}/terms", response=AgreementPage)
def person_terms(request: HttpRequest, public_id: str):
    """The person's proffered terms and the company's answers (staff)."""
    return _agreements(access.staff_person(request.user, public_id))


# ---------------------------------------------------------------- intentcasting


class IntentIn(InputSchema):
    model_config = ConfigDict(extra="forbid")
    category: CleanStr = Field(..., max_length=100)
    description: CleanStr = Field(..., max_length=4000)
    budget_min: str | None = Field(None, max_length=20)
    budget_max: str | None = Field(None, max_length=20)
    currency: CleanStr = Field("", max_length=3)
    needed_by: dt.date | None = None
    location: CleanStr = Field("", max_length=200)
    share_with_partners: bool = False
    days: int = Field(30, description="how many days the intent stays open")


class OfferIn(InputSchema):
    model_config = ConfigDict(extra="forbid")
    title: CleanStr = Field(..., max_length=200)
    price: str = Field(..., max_length=20)
    description: CleanStr = Field("", max_length=4000)
    currency: CleanStr = Field("", max_length=3)
    valid_until: dt.date | None = None
    product: uuid.UUID | None = None


class OfferOut(Schema):
    id: uuid.UUID
    intent: uuid.UUID
    title: str
    description: str
    price: str
    currency: str
    valid_until: dt.date | None
    status: str
    made_by: str | None
    created_at: dt.datetime


class IntentOut(Schema):
    id: uuid.UUID
    person: uuid.UUID
    category: str
    description: str
    budget_min: str | None
    budget_max: str | None
    currency: str
    needed_by: dt.date | None
    location: str
    terms: list[dict]
    share_with_partners: bool
    status: str
    expires_at: dt.datetime
    deal: uuid.UUID | None
    offers: list[OfferOut]
    created_at: dt.datetime


class IntentPage(Schema):
    items: list[IntentOut]


class PartnerIntentOut(Schema):
    id: uuid.UUID
    category: str
    description: str
    budget_min: str | None
    budget_max: str | None
    currency: str
    needed_by: dt.date | None
    location: str
    terms: list[dict]
    expires_at: dt.datetime


class PartnerIntentPage(Schema):
    items: list[PartnerIntentOut]


class PartnerOfferIn(InputSchema):
    """A partner's offer: as staff's, without a product from the company's catalogue."""

    model_config = ConfigDict(extra="forbid")
    title: CleanStr = Field(..., max_length=200)
    price: str = Field(..., max_length=20)
    description: CleanStr = Field("", max_length=4000)
    currency: CleanStr = Field("", max_length=3)
    valid_until: dt.date | None = None


class PartnerOfferPage(Schema):
    items: list[OfferOut]


def _money_out(value) -> str | None:
    return None if value is None else str(value)


def _offer_out(o, intent=None) -> dict:
    intent = intent or o.intent
    return {
        "id": o.public_id,
        "intent": intent.public_id,
        "title": o.title,
        "description": o.description,
        "price": str(o.price),
        "currency": o.currency,
        "valid_until": o.valid_until,
        "status": o.status,
        "made_by": (o.made_by.get_full_name() or o.made_by.get_username()) if o.made_by else None,
        "created_at": o.created_at,
    }


def _intent_out(i) -> dict:
    deal_id = None
    if i.deal_id:
        from kith.sales.models import Deal

        deal_id = Deal.objects.filter(pk=i.deal_id).values_list("public_id", flat=True).first()
    return {
        "id": i.public_id,
        "person": i.person.public_id,
        "category": i.category,
        "description": i.description,
        "budget_min": _money_out(i.budget_min),
        "budget_max": _money_out(i.budget_max),
        "currency": i.currency,
        "needed_by": i.needed_by,
        "location": i.location,
        "terms": i.terms,
        "share_with_partners": i.share_with_partners,
        "status": i.status,
        "expires_at": i.expires_at,
        "deal": deal_id,
        "offers": [_offer_out(o, i) for o in i.offers.select_related("made_by")],
        "created_at": i.created_at,
    }


def _intent_input(body: IntentIn):
    from . import intents

    return intents.IntentInput(**body.model_dump())


@router.get("/cmr/me/intents", response=IntentPage)
def my_intents(request: HttpRequest):
    from .models import Intent

    person = access.own_person(request.user)
    rows = Intent.objects.filter(person=person).select_related("person")[:100]
    return {"items": [_intent_out(i) for i in rows]}


@router.post("/cmr/me/intents", response={201: IntentOut})
def file_my_intent(request: HttpRequest, body: IntentIn):
    """Tell the company what you need (category, budget, by when); they answer with offers."""
    from . import intents

    person = access.own_person(request.user)
    with audit_channel("api"):
        intent = intents.file_intent(actor=request.user, person=person, data=_intent_input(body))
    return Status(201, _intent_out(intent))


@router.get("/cmr/me/intents/{intent_id}", response=IntentOut)
def my_intent(request: HttpRequest, intent_id: str):
    from . import intents

    return _intent_out(intents.intent_of(access.own_person(request.user), intent_id))


@router.post("/cmr/me/intents/{intent_id}/withdraw", response=IntentOut)
def withdraw_my_intent(request: HttpRequest, intent_id: str):
    from . import intents

    intent = intents.intent_of(access.own_person(request.user), intent_id)
    with audit_channel("api"):
        return _intent_out(intents.withdraw_intent(actor=request.user, intent=intent))


@router.post("/cmr/me/offers/{offer_id}/accept", response=IntentOut)
def accept_my_offer(request: HttpRequest, offer_id: str):
    """Accept an offer: a deal is opened, the intent closes, other offers lapse."""
    from . import intents

    offer = intents.offer_of(access.own_person(request.user), offer_id)
    with audit_channel("api"):
        accepted = intents.accept_offer(actor=request.user, offer=offer)
    return _intent_out(accepted.intent)


@router.post("/cmr/me/offers/{offer_id}/decline", response=IntentOut)
def decline_my_offer(request: HttpRequest, offer_id: str):
    from . import intents

    offer = intents.offer_of(access.own_person(request.user), offer_id)
    with audit_channel("api"):
        intents.decline_offer(actor=request.user, offer=offer)
    return _intent_out(intents.intent_of(offer.intent.person, offer.intent.public_id))


@router.get("/cmr/intents", response=IntentPage)
def intent_queue(request: HttpRequest, status: str = "open"):
    """Intents of the people the caller may see (staff), newest first."""
    from . import intents

    return {"items": [_intent_out(i) for i in intents.queue_for(request.user, status)[:200]]}


@router.get("/cmr/intents/{intent_id}", response=IntentOut)
def staff_intent(request: HttpRequest, intent_id: str):
    from . import intents

    return _intent_out(intents.intent_for_staff(request.user, intent_id))


@router.post("/cmr/intents/{intent_id}/offers", response={201: OfferOut})
def make_offer(request: HttpRequest, intent_id: str, body: OfferIn):
    """Answer an open intent with an offer (staff who may change the person)."""
    from . import intents

    intent = intents.intent_for_staff(request.user, intent_id, change=True)
    with audit_channel("api"):
        offer = intents.make_offer(
            actor=request.user, intent=intent, data=intents.OfferInput(**body.model_dump())
        )
    return Status(201, _offer_out(offer))


@router.get("/people/{public_id}/intents", response=IntentPage)
def person_intents(request: HttpRequest, public_id: str):
    from .models import Intent

    person = access.staff_person(request.user, public_id)
    rows = Intent.objects.filter(person=person).select_related("person")[:100]
    return {"items": [_intent_out(i) for i in rows]}


@router.get("/cmr/partner-intents", response=PartnerIntentPage)
def partner_intents(request: HttpRequest):
    """Intents customers shared with partners (partners only; no names or contacts).
    An intent whose person's terms or consents no longer allow sharing is not shown."""
    from kith.collab.access import is_partner
    from kith.core.errors import NotFound

    from . import intents

    if not getattr(request.user, "is_authenticated", False) or not is_partner(request.user):
        raise NotFound("Not found.")
    items = []
    for i in intents.for_partners():
        row = _intent_out(i)
        items.append({k: row[k] for k in PartnerIntentOut.model_fields})
    return {"items": items}


@router.post("/cmr/partner-intents/{intent_id}/offers", response={201: OfferOut})
def make_partner_offer(request: HttpRequest, intent_id: str, body: PartnerOfferIn):
    """A partner answers an intent shared with partners; the customer compares it beside
    the company's offers. Anyone who is not a partner, or an intent no longer shared: 404."""
    from . import intents

    intent = intents.partner_intent(request.user, intent_id)
    with audit_channel("api"):
        offer = intents.make_partner_offer(
            actor=request.user, intent=intent, data=intents.OfferInput(**body.model_dump())
        )
    return Status(201, _offer_out(offer))


@router.get("/cmr/partner-intents/{intent_id}/offers", response=PartnerOfferPage)
def partner_offers(request: HttpRequest, intent_id: str):
    """The calling partner's own offers on a shared intent (never another partner's)."""
    from . import intents

    intent = intents.partner_intent(request.user, intent_id)
    mine = intents.partner_offers(request.user, [intent.pk]).get(intent.pk, [])
    return {"items": [_offer_out(o, intent) for o in mine]}
