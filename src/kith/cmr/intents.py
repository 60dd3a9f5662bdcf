"""Intentcasting: a customer announces what they want, staff answer with offers, the
customer accepts one (which creates a deal on the person) or lets the intent lapse.

Every step is one transaction with an audit entry, a domain event and a line on the
person's timeline. Intents expire at ``expires_at`` (``expire_due``, a worker job); an
expired, withdrawn or accepted intent takes no offers and no acceptance (409). An intent
the customer shares with partners is shown to them (``for_partners``) only while the
person's terms and consents allow sharing (``kith.cmr.policy.may_share``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from kith.core import audit, events
from kith.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kith.people.models import Party

from . import policy, terms
from .models import Intent, IntentStatus, Offer, OfferStatus

MAX_DAYS = 365
DEFAULT_DAYS = 30
MAX_MONEY = Decimal("1000000000")


@dataclass
class IntentInput:
    category: str
    description: str
    budget_min: Any = None
    budget_max: Any = None
    currency: str = ""
    needed_by: dt.date | None = None
    location: str = ""
    share_with_partners: bool = False
    days: int = DEFAULT_DAYS


@dataclass
class OfferInput:
    title: str
    price: Any
    description: str = ""
    currency: str = ""
    valid_until: dt.date | None = None
    product: Any = None  # a sales.Product public id


def _money(value: Any, name: str, errors: list[FieldError]) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.append(FieldError(name, "Give an amount like 1200 or 1200.50."))
        return None
    if not amount.is_finite() or amount < 0 or amount >= MAX_MONEY:
        errors.append(FieldError(name, "Between 0 and 1,000,000,000."))
        return None
    return amount.quantize(Decimal("0.01"))


def _currency(value: str, errors: list[FieldError]) -> str:
    from kith.sales.models import base_currency

    code = (value or base_currency()).strip().upper()
    if len(code) != 3 or not code.isalpha():
        errors.append(FieldError("currency", "A three-letter currency code like EUR."))
    return code


def _text(value: Any, name: str, limit: int, errors: list[FieldError], required=False) -> str:
    text = " ".join(str(value or "").split()) if name != "description" else str(value or "")
    text = text.strip()
    if required and not text:
        errors.append(FieldError(name, "This field is required."))
    elif len(text) > limit:
        errors.append(FieldError(name, f"At most {limit} characters."))
    return text


def _timeline(actor, person: Party, summary: str, related, inbound: bool) -> None:
    from kith.interactions import services as interaction_services
    from kith.interactions.models import Channel, Direction

    interaction_services.log_interaction(
        actor=actor if getattr(actor, "pk", None) else None,
        party=person,
        channel=Channel.PORTAL if inbound else Channel.SYSTEM,
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        kind="intent",
        summary=summary[:300],
        related=related,
    )


def _uuid(value: Any, what: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound(f"No such {what}.") from exc


# ---------------------------------------------------------------- the customer


def file_intent(*, actor, person: Party, data: IntentInput) -> Intent:
    """Publish an intent; the person's terms in force are attached to it."""
    errors: list[FieldError] = []
    category = _text(data.category, "category", 100, errors, required=True)
    description = _text(data.description, "description", 4000, errors, required=True)
    location = _text(data.location, "location", 200, errors)
    low = _money(data.budget_min, "budget_min", errors)
    high = _money(data.budget_max, "budget_max", errors)
    if low is not None and high is not None and low > high:
        errors.append(FieldError("budget_max", "The top of the budget is below its bottom."))
    currency = _currency(data.currency, errors)
    today = timezone.localdate()
    if data.needed_by is not None and data.needed_by < today:
        errors.append(FieldError("needed_by", "This date has passed."))
    if (
        isinstance(data.days, bool)
        or not isinstance(data.days, int)
        or not 1 <= data.days <= MAX_DAYS
    ):
        errors.append(FieldError("days", f"Between 1 and {MAX_DAYS} days."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        locked = Party.objects.select_for_update().get(pk=person.pk)
        if locked.status == Party.Status.ERASED:
            raise Conflict("This person was erased.")
        if data.share_with_partners:
            decision = policy.may_share(person=locked)
            if not decision:
                raise ValidationFailed.single(
                    "share_with_partners",
                    "Your terms or consents do not allow sharing with partners: " + decision.reason,
                )
        expires = timezone.now() + dt.timedelta(days=data.days)
        if data.needed_by is not None:
            end_of_day = dt.datetime.combine(
                data.needed_by, dt.time(23, 59), tzinfo=timezone.get_current_timezone()
            )
            expires = min(expires, end_of_day)
        intent = Intent.objects.create(
            person=locked,
            category=category,
            description=description,
            budget_min=low,
            budget_max=high,
            currency=currency,
            needed_by=data.needed_by,
            location=location,
            terms=list(terms.in_force(locked).values()),
            share_with_partners=bool(data.share_with_partners),
            expires_at=expires,
        )
        audit.record(
            actor=actor,
            action="intent.filed",
            obj=intent,
            changes={"category": [None, category]},
            party_id=locked.pk,
        )
        events.emit(
            "intent.filed",
            obj=intent,
            actor=actor,
            data={"person": str(locked.public_id), "category": category},
        )
        _timeline(actor, locked, f"Intent filed: {category}", intent, inbound=True)
    return intent


def intent_of(person: Party, public_id: Any) -> Intent:
    """One of ``person``'s intents, or 404."""
    found = Intent.objects.filter(person=person, public_id=_uuid(public_id, "intent")).first()
    if found is None:
        raise NotFound("No such intent.")
    return found


def offer_of(person: Party, public_id: Any) -> Offer:
    """An offer on one of ``person``'s intents, or 404."""
    found = (
        Offer.objects.select_related("intent")
        .filter(intent__person=person, public_id=_uuid(public_id, "offer"))
        .first()
    )
    if found is None:
        raise NotFound("No such offer.")
    return found


def _lock_open(intent: Intent) -> Intent:
    locked = Intent.objects.select_for_update().get(pk=intent.pk)
    if locked.status == IntentStatus.OPEN and locked.expires_at <= timezone.now():
        raise Conflict("This intent has expired.")
    if locked.status != IntentStatus.OPEN:
        raise Conflict(f"This intent is {locked.get_status_display().lower()}.")
    return locked


def withdraw_intent(*, actor, intent: Intent) -> Intent:
    with transaction.atomic():
        locked = _lock_open(intent)
        now = timezone.now()
        locked.status = IntentStatus.WITHDRAWN
        locked.closed_at = now
        locked.save(update_fields=["status", "closed_at", "updated_at"])
        locked.offers.filter(status=OfferStatus.OPEN).update(
            status=OfferStatus.LAPSED, decided_at=now
        )
        audit.record(
            actor=actor,
            action="intent.withdrawn",
            obj=locked,
            changes={},
            party_id=locked.person_id,
        )
        events.emit("intent.withdrawn", obj=locked, actor=actor, data={})
        _timeline(actor, locked.person, f"Intent withdrawn: {locked.category}", locked, True)
    return locked


def accept_offer(*, actor, offer: Offer) -> Offer:
    """Accept ``offer``: a deal is created on the person (through the sales service), the
    intent closes and its other offers lapse."""
    from kith.sales import services as sales_services

    with transaction.atomic():
        intent = _lock_open(offer.intent)
        locked = Offer.objects.select_for_update().get(pk=offer.pk)
        if locked.status != OfferStatus.OPEN:
            raise Conflict(f"This offer is {locked.get_status_display().lower()}.")
        if locked.valid_until is not None and locked.valid_until < timezone.localdate():
            raise Conflict("This offer is no longer valid.")
        deal = sales_services.create_deal(
            # A partner's offer: the deal is the company's record of it, made by the system
            # (the partner is a portal user, not a staff owner).
            actor=locked.made_by if locked.made_by_id and not locked.partner_id else None,
            data={
                "title": f"{intent.category}: {locked.title}"[:200],
                "person": intent.person,
                "amount": locked.price,
                "currency": locked.currency,
                "next_step": "Deliver the accepted offer",
            },
        )
        now = timezone.now()
        locked.status = OfferStatus.ACCEPTED
        locked.decided_at = now
        locked.save(update_fields=["status", "decided_at", "updated_at"])
        intent.offers.filter(status=OfferStatus.OPEN).exclude(pk=locked.pk).update(
            status=OfferStatus.LAPSED, decided_at=now
        )
        intent.status = IntentStatus.ACCEPTED
        intent.closed_at = now
        intent.deal = deal
        intent.save(update_fields=["status", "closed_at", "deal", "updated_at"])
        audit.record(
            actor=actor,
            action="offer.accepted",
            obj=locked,
            changes={"deal": [None, str(deal.public_id)]},
            party_id=intent.person_id,
        )
        events.emit(
            "offer.accepted",
            obj=locked,
            actor=actor,
            data={"intent": str(intent.public_id), "deal": str(deal.public_id)},
        )
        _timeline(
            actor, intent.person, f"Offer accepted: {locked.title} (deal created)", locked, True
        )
    locked.intent = intent
    return locked


def decline_offer(*, actor, offer: Offer) -> Offer:
    with transaction.atomic():
        intent = _lock_open(offer.intent)
        locked = Offer.objects.select_for_update().get(pk=offer.pk)
        if locked.status != OfferStatus.OPEN:
            raise Conflict(f"This offer is {locked.get_status_display().lower()}.")
        locked.status = OfferStatus.DECLINED
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_at", "updated_at"])
        audit.record(
            actor=actor, action="offer.declined", obj=locked, changes={}, party_id=intent.person_id
        )
        events.emit("offer.declined", obj=locked, actor=actor, data={})
        _timeline(actor, intent.person, f"Offer declined: {locked.title}", locked, True)
    return locked


# ---------------------------------------------------------------- staff


def make_offer(*, actor, intent: Intent, data: OfferInput, partner: Party | None = None) -> Offer:
    """Answer an open intent with an offer (staff who may change the person, or a partner
    through ``make_partner_offer``: ``partner`` is then the partner's person)."""
    from kith.sales.models import Product

    errors: list[FieldError] = []
    title = _text(data.title, "title", 200, errors, required=True)
    description = _text(data.description, "description", 4000, errors)
    price = _money(data.price, "price", errors)
    if price is None and not any(e.field == "price" for e in errors):
        errors.append(FieldError("price", "This field is required."))
    product = None
    if data.product not in (None, ""):
        try:
            product = Product.objects.filter(
                public_id=_uuid(data.product, "product"), active=True
            ).first()
        except NotFound:
            product = None
        if product is None:
            errors.append(FieldError("product", "No such product."))
    currency = _currency(
        data.currency or (product.currency if product else intent.currency), errors
    )
    if data.valid_until is not None and data.valid_until < timezone.localdate():
        errors.append(FieldError("valid_until", "This date has passed."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        locked = _lock_open(intent)
        offer = Offer.objects.create(
            intent=locked,
            made_by=actor if getattr(actor, "pk", None) else None,
            partner=partner,
            product=product,
            title=title,
            description=description,
            price=price,
            currency=currency,
            valid_until=data.valid_until,
        )
        audit.record(
            actor=actor,
            action="offer.made",
            obj=offer,
            changes={"price": [None, str(price)]},
            party_id=locked.person_id,
        )
        events.emit(
            "offer.made",
            obj=offer,
            actor=actor,
            data={"intent": str(locked.public_id), "price": str(price), "currency": currency},
        )
        _timeline(actor, locked.person, f"Offer made: {title} ({price} {currency})", offer, False)
    return offer


def intent_for_staff(user, public_id: Any, *, change: bool = False) -> Intent:
    """An intent whose person staff ``user`` may see (404), and change when ``change``."""
    from kith.people import access as people_access

    from . import access

    people_access.require_staff(user)
    found = (
        Intent.objects.select_related("person").filter(public_id=_uuid(public_id, "intent")).first()
    )
    if found is None:
        raise NotFound("No such intent.")
    getter = access.staff_person_for_change if change else access.staff_person
    getter(user, found.person.public_id)
    return found


def queue_for(user, status: str = IntentStatus.OPEN):
    """Intents of the people staff ``user`` may see, newest first (the staff queue)."""
    from kith.people import access as people_access

    people_access.require_staff(user)
    if status not in IntentStatus.values:
        raise ValidationFailed.single("status", f"One of {', '.join(IntentStatus.values)}.")
    visible = people_access.staff_scope(user).values("pk")
    qs = Intent.objects.filter(status=status, person__in=visible)
    if status == IntentStatus.OPEN:
        qs = qs.filter(expires_at__gt=timezone.now())
    return qs.select_related("person").prefetch_related("offers")


def for_partners():
    """Open intents shared with partners whose people still allow sharing (no names)."""
    rows = Intent.objects.filter(
        status=IntentStatus.OPEN, share_with_partners=True, expires_at__gt=timezone.now()
    ).select_related("person")
    return [i for i in rows[:500] if policy.may_share(person=i.person)]


def partner_intent(user, public_id: Any) -> Intent:
    """An intent shared with partners that partner ``user`` may answer, else 404.

    The same rule as ``for_partners``: open, not expired, shared, and the person's terms
    and consents still allow sharing. Anyone who is not a partner gets 404.
    """
    from kith.collab.access import is_partner

    if not getattr(user, "is_authenticated", False) or not is_partner(user):
        raise NotFound("Not found.")
    found = (
        Intent.objects.select_related("person")
        .filter(
            public_id=_uuid(public_id, "intent"),
            status=IntentStatus.OPEN,
            share_with_partners=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    if found is None or not policy.may_share(person=found.person):
        raise NotFound("No such intent.")
    return found


def make_partner_offer(*, actor, intent: Intent, data: OfferInput) -> Offer:
    """A partner answers an intent shared with partners (rechecked under ``partner_intent``)."""
    checked = partner_intent(actor, intent.public_id)
    if checked.person_id == actor.person_id:
        raise ValidationFailed.single("intent", "You cannot answer your own intent.")
    return make_offer(actor=actor, intent=checked, data=data, partner=actor.person)


def partner_offers(user, intent_ids: list[int]) -> dict[int, list[Offer]]:
    """The offers partner ``user`` made on these intents (never anyone else's)."""
    out: dict[int, list[Offer]] = {}
    for offer in Offer.objects.filter(intent_id__in=intent_ids, made_by=user).order_by(
        "created_at", "id"
    ):
        out.setdefault(offer.intent_id, []).append(offer)
    return out


# ---------------------------------------------------------------- expiry


def _expire(intent: Intent) -> None:
    now = timezone.now()
    intent.status = IntentStatus.EXPIRED
    intent.closed_at = now
    intent.save(update_fields=["status", "closed_at", "updated_at"])
    intent.offers.filter(status=OfferStatus.OPEN).update(status=OfferStatus.LAPSED, decided_at=now)
    audit.record(
        actor=None, action="intent.expired", obj=intent, changes={}, party_id=intent.person_id
    )
    events.emit("intent.expired", obj=intent, actor=None, data={})
    _timeline(None, intent.person, f"Intent expired: {intent.category}", intent, False)


def expire_due(now: dt.datetime | None = None) -> int:
    """Expire open intents past ``expires_at`` (the worker job); returns how many.
    Each is locked and checked again, so two workers expire it once."""
    now = now or timezone.now()
    count = 0
    due = Intent.objects.filter(status=IntentStatus.OPEN, expires_at__lte=now).values_list(
        "pk", flat=True
    )
    for pk in list(due[:1000]):
        with transaction.atomic():
            intent = Intent.objects.select_for_update().filter(pk=pk).first()
            if intent is None or intent.status != IntentStatus.OPEN or intent.expires_at > now:
                continue
            _expire(intent)
            count += 1
    return count
