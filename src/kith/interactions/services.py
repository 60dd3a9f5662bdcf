"""Logging interactions and recording transactions.

Ingestion is idempotent on ``(source, external_id)``: the second time the same
message arrives the existing row is returned and nothing new is written.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from kith.core import audit, events
from kith.core.errors import FieldError, ValidationFailed
from kith.interactions.models import (
    CallOutcome,
    Channel,
    Direction,
    InformationRole,
    Interaction,
    Transaction,
)
from kith.people.models import Party

MAX_DURATION_SECONDS = 24 * 3600

# Active ISO 4217 codes (2024 list, without funds and precious metals).
ISO_4217 = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XCG",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
    ]
)


def _aware(value: dt.datetime | None, field: str) -> dt.datetime:
    if value is None:
        return timezone.now()
    if timezone.is_naive(value):
        raise ValidationFailed.single(field, "Must include a time zone, e.g. 2026-01-31T09:00:00Z.")
    return value


def log_interaction(
    *,
    actor,
    party: Party,
    channel: str,
    summary: str,
    direction: str = Direction.INBOUND,
    kind: str = "note",
    occurred_at: dt.datetime | None = None,
    body: str = "",
    sentiment: float | None = None,
    source: str = "",
    external_id: str = "",
    related: models.Model | None = None,
    information_role: str = "",
    duration_seconds: int | None = None,
    outcome: str = "",
) -> tuple[Interaction, bool]:
    """Append an interaction to ``party``'s timeline; returns (interaction, created)."""
    errors = []
    if duration_seconds is not None and not 0 <= duration_seconds <= MAX_DURATION_SECONDS:
        errors.append(FieldError("duration_seconds", "Between 0 and 24 hours."))
    if outcome not in CallOutcome.values:
        errors.append(
            FieldError(
                "outcome", f"Must be one of: {', '.join(v for v in CallOutcome.values if v)}."
            )
        )
    if (duration_seconds is not None or outcome) and channel not in (Channel.CALL, Channel.MEETING):
        errors.append(
            FieldError(
                "outcome" if outcome else "duration_seconds",
                "Only calls and meetings have a duration and outcome.",
            )
        )
    if channel not in Channel.values:
        errors.append(FieldError("channel", f"Must be one of: {', '.join(Channel.values)}."))
    if direction not in Direction.values:
        errors.append(FieldError("direction", f"Must be one of: {', '.join(Direction.values)}."))
    summary = " ".join((summary or "").split())
    if not summary:
        errors.append(FieldError("summary", "This field is required."))
    elif len(summary) > 300:
        errors.append(FieldError("summary", "At most 300 characters."))
    if sentiment is not None and not -1 <= sentiment <= 1:
        errors.append(FieldError("sentiment", "Must be between -1 and 1."))
    if external_id and not source:
        errors.append(FieldError("source", "Required when external_id is given."))
    if len(kind) > 40 or not kind:
        errors.append(FieldError("kind", "Between 1 and 40 characters."))
    if party.status != Party.Status.ACTIVE:
        errors.append(FieldError("party", "That record was merged or erased."))
    if information_role not in InformationRole.values:
        errors.append(FieldError("information_role", "Must be 'seeking', 'contributing' or empty."))
    if errors:
        raise ValidationFailed(errors=errors)
    when = _aware(occurred_at, "occurred_at")
    if external_id:
        existing = Interaction.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            interaction = Interaction.objects.create(
                party=party,
                channel=channel,
                direction=direction,
                kind=kind,
                occurred_at=when,
                summary=summary,
                body=body,
                sentiment=sentiment,
                source=source,
                external_id=external_id,
                actor=actor if getattr(actor, "is_authenticated", False) else None,
                related_type=ContentType.objects.get_for_model(related)
                if related is not None
                else None,
                related_id=related.pk if related is not None else None,
                information_role=information_role,
                duration_seconds=duration_seconds,
                outcome=outcome,
            )
            audit.record(
                actor=actor,
                action="interaction.logged",
                obj=interaction,
                changes={"channel": channel, "summary": summary},
                party_id=party.pk,
            )
            events.emit(
                "interaction.logged",
                obj=interaction,
                actor=actor,
                data={"party": str(party.public_id), "channel": channel, "kind": kind},
            )
    except IntegrityError:
        # A concurrent ingest of the same (source, external_id) won the race.
        existing = Interaction.objects.filter(source=source, external_id=external_id).first()
        if existing is None:
            raise
        return existing, False
    return interaction, True


def parse_amount(raw: Any) -> Decimal:
    try:
        amount = Decimal(str(raw))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed.single("amount", "Must be a decimal number such as 19.99.") from exc
    if not amount.is_finite() or amount < 0:
        raise ValidationFailed.single("amount", "Must be zero or more; a refund is its own kind.")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed.single("amount", "At most two decimal places.")
    if amount >= Decimal("1e12"):
        raise ValidationFailed.single("amount", "Too large.")
    return amount


def record_transaction(
    *,
    actor,
    party: Party,
    kind: str,
    amount: Any,
    currency: str,
    occurred_at: dt.datetime | None = None,
    reference: str = "",
    description: str = "",
    source: str = "",
    external_id: str = "",
) -> tuple[Transaction, bool]:
    """Record an order, payment or refund; idempotent on (source, external_id)."""
    errors = []
    if kind not in Transaction.Kind.values:
        errors.append(FieldError("kind", "Must be order, payment or refund."))
    code = (currency or "").strip().upper()
    if code not in iso_currencies():
        errors.append(FieldError("currency", "Must be an ISO 4217 code such as EUR or USD."))
    if external_id and not source:
        errors.append(FieldError("source", "Required when external_id is given."))
    if party.status != Party.Status.ACTIVE:
        errors.append(FieldError("party", "That record was merged or erased."))
    try:
        value = parse_amount(amount)
    except ValidationFailed as exc:
        errors += exc.errors
        value = Decimal(0)
    if errors:
        raise ValidationFailed(errors=errors)
    when = _aware(occurred_at, "occurred_at")
    if external_id:
        existing = Transaction.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            return existing, False
    with transaction.atomic():
        tx = Transaction.objects.create(
            party=party,
            kind=kind,
            amount=value,
            currency=code,
            occurred_at=when,
            reference=reference[:120],
            description=description[:300],
            source=source,
            external_id=external_id,
        )
        audit.record(
            actor=actor,
            action="transaction.recorded",
            obj=tx,
            changes={"kind": kind, "amount": value, "currency": code},
            party_id=party.pk,
        )
        events.emit(
            "transaction.recorded",
            obj=tx,
            actor=actor,
            data={"party": str(party.public_id), "kind": kind, "amount": value, "currency": code},
        )
    return tx, True


def iso_currencies() -> frozenset[str]:
    """Active ISO 4217 currency codes."""
    return ISO_4217


def mirror_interaction(
    *,
    actor,
    party: Party,
    channel: str,
    kind: str,
    summary: str,
    related: models.Model,
    information_role: str = "",
    direction: str = Direction.INBOUND,
    body: str = "",
) -> Interaction:
    """Append the interaction that mirrors a write the caller is making (a community
    vote), inside the caller's transaction, in one INSERT.

    Unlike ``log_interaction`` it writes no audit entry or event of its own: the
    caller's audit entry and event describe the act and name this interaction, so a
    hot path (a vote) pays for one record of it, not two. Arguments are the caller's
    own (no user input reaches ``channel``/``kind``); the summary is trimmed to fit.
    """
    if party.status != Party.Status.ACTIVE:
        raise ValidationFailed.single("party", "That record was merged or erased.")
    return Interaction.objects.create(
        party=party,
        channel=channel,
        direction=direction,
        kind=kind[:40],
        occurred_at=timezone.now(),
        summary=" ".join(summary.split())[:300],
        body=body,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        related_type=ContentType.objects.get_for_model(related),
        related_id=related.pk,
        information_role=information_role,
    )
