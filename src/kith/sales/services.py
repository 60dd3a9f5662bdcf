"""Business rules for sales: every write to products, pipelines, deals and rates goes here.

Each public function is keyword-only, runs in one transaction, writes an audit entry
and queues a domain event (``deal.created``, ``deal.stage_changed``…). The API, the web
UI, the demo loader and tasks all call these, so the rules cannot drift.

Rules worth knowing:

* a deal's ``pipeline`` is always its stage's pipeline; moving to a stage of another
  pipeline moves the deal there;
* moving a deal sets its probability to the new stage's default unless one is given;
  a won or lost stage closes the deal (``closed_on`` today, forecast category
  ``closed``) and reopening it puts it back into the ``pipeline`` category;
* a lost stage needs a lost reason;
* once a deal has line items its amount is their sum and cannot be typed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from kith.accounts import assignment
from kith.accounts.models import Team, User
from kith.core import audit, events, trash
from kith.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kith.core.models import TrashItem
from kith.interactions import services as interaction_services
from kith.interactions.models import Channel, Direction
from kith.people.models import Party, Visibility
from kith.sales.models import (
    Deal,
    DealContact,
    DealLine,
    ExchangeRate,
    ForecastCategory,
    ForecastCell,
    Pipeline,
    Product,
    Stage,
    StageChange,
    base_currency,
)

MAX_MONEY = Decimal("1e12")
CENT = Decimal("0.01")
DEAL_FIELDS = (
    "title",
    "organization",
    "person",
    "owner",
    "team",
    "visibility",
    "amount",
    "currency",
    "probability",
    "forecast_category",
    "expected_close_date",
    "next_step",
    "lost_reason",
    "notes",
)
TEXT_LIMITS = {"title": 200, "next_step": 300, "lost_reason": 300, "notes": 20000}


# ---------------------------------------------------------------- value checks


def clean_money(value: Any, field: str, errors: list[FieldError]) -> Decimal | None:
    """A non-negative amount with at most two decimals, or None with an error added."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.append(FieldError(field, "Must be a decimal number such as 1250.00."))
        return None
    if not amount.is_finite() or amount < 0:
        errors.append(FieldError(field, "Must be zero or more."))
        return None
    # Size first: quantizing a huge number raises instead of answering.
    if amount >= MAX_MONEY:
        errors.append(FieldError(field, "Too large."))
        return None
    if amount != amount.quantize(CENT):
        errors.append(FieldError(field, "At most two decimal places."))
        return None
    return amount.quantize(CENT)


def clean_currency(value: Any, field: str, errors: list[FieldError]) -> str | None:
    code = str(value or "").strip().upper()
    if code not in interaction_services.iso_currencies():
        errors.append(FieldError(field, "Must be an ISO 4217 code such as EUR or USD."))
        return None
    return code


def clean_probability(value: Any, field: str, errors: list[FieldError]) -> int | None:
    try:
        number = int(value)
        if str(value).strip() not in (str(number), f"{number}.0") and not isinstance(value, int):
            raise ValueError
    except (TypeError, ValueError):
        errors.append(FieldError(field, "Must be a whole number from 0 to 100."))
        return None
    if not 0 <= number <= 100:
        errors.append(FieldError(field, "Must be between 0 and 100."))
        return None
    return number


def _clean_text(value: Any, field: str, errors: list[FieldError], *, required=False) -> str:
    text = " ".join(str(value or "").split()) if field != "notes" else str(value or "").strip()
    if required and not text:
        errors.append(FieldError(field, "This field is required."))
    limit = TEXT_LIMITS.get(field, 300)
    if len(text) > limit:
        errors.append(FieldError(field, f"At most {limit} characters."))
    return text


def _clean_date(value: Any, field: str, errors: list[FieldError]) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors.append(FieldError(field, "Must be a date as YYYY-MM-DD."))
        return None


def _check_party(value: Any, kind: str, field: str, errors: list[FieldError]) -> Party | None:
    if value is None:
        return None
    if not isinstance(value, Party) or value.kind != kind:
        label = "an organisation" if kind == Party.Kind.ORGANIZATION else "a person"
        errors.append(FieldError(field, f"Must be {label}."))
        return None
    if value.status != Party.Status.ACTIVE:
        errors.append(FieldError(field, "That record was merged or erased."))
        return None
    return value


def _deal_snapshot(deal: Deal) -> dict[str, Any]:
    return {
        "title": deal.title,
        "organization": deal.organization_id,
        "person": deal.person_id,
        "owner": deal.owner_id,
        "team": deal.team_id,
        "visibility": deal.visibility,
        "amount": deal.amount,
        "currency": deal.currency,
        "stage": deal.stage_id,
        "probability": deal.probability,
        "forecast_category": deal.forecast_category,
        "expected_close_date": deal.expected_close_date,
        "next_step": deal.next_step,
        "lost_reason": deal.lost_reason,
        "notes": deal.notes,
    }


def _party_id(deal: Deal) -> int | None:
    return deal.organization_id or deal.person_id


def default_pipeline() -> Pipeline | None:
    return (
        Pipeline.objects.filter(active=True).order_by("-is_default", "name", "id").first()
        or Pipeline.objects.order_by("id").first()
    )


def first_open_stage(pipeline: Pipeline) -> Stage | None:
    return (
        pipeline.stages.filter(is_won=False, is_lost=False).order_by("order", "id").first()
        or pipeline.stages.order_by("order", "id").first()
    )


# ---------------------------------------------------------------- forecast cells

CELL_SOURCE_FIELDS = (
    "pipeline_id",
    "owner_id",
    "team_id",
    "visibility",
    "currency",
    "forecast_category",
    "is_won",
    "forecast_month",
    "amount",
    "probability",
)


def _contribution(row: dict[str, Any] | None) -> tuple[dict[str, Any], int, int] | None:
    """The cell key and the (cents, cents × probability) a deal adds, or None."""
    if row is None or row["forecast_month"] is None:
        return None
    category = row["forecast_category"]
    if category == ForecastCategory.OMITTED or (
        category == ForecastCategory.CLOSED and not row["is_won"]
    ):
        return None
    key = {
        "pipeline_id": row["pipeline_id"],
        "owner_key": row["owner_id"] or 0,
        "team_key": row["team_id"] or 0,
        "visibility": row["visibility"],
        "currency": row["currency"],
        "forecast_category": category,
        "is_won": bool(row["is_won"]),
        "forecast_month": row["forecast_month"],
    }
    cents = int((Decimal(row["amount"]) * 100).to_integral_value())
    return key, cents, cents * row["probability"]


def _deal_row(deal_id: int) -> dict[str, Any] | None:
    """A deal's forecast dimensions as stored (not as a caller's possibly edited object)."""
    return Deal.objects.filter(pk=deal_id).values(*CELL_SOURCE_FIELDS).first()


def _apply(part: tuple[dict[str, Any], int, int] | None, sign: int) -> None:
    if part is None:
        return
    key, cents, weighted = part
    changes = {
        "deals": F("deals") + sign,
        "amount_cents": F("amount_cents") + sign * cents,
        "weighted_cents": F("weighted_cents") + sign * weighted,
    }
    if ForecastCell.objects.filter(**key).update(**changes):
        if sign < 0:
            ForecastCell.objects.filter(**key, deals__lte=0).delete()
        return
    if sign < 0:  # pragma: no cover - a cell is only missing if rebuilt concurrently
        return
    try:
        with transaction.atomic():
            ForecastCell.objects.create(**key, deals=1, amount_cents=cents, weighted_cents=weighted)
    except IntegrityError:
        # Another transaction created the cell first: add to it.
        ForecastCell.objects.filter(**key).update(**changes)


def _refresh_cells(deal_id: int, before: dict[str, Any] | None) -> None:
    """Move a deal's contribution from its ``before`` state to its stored state."""
    old, new = _contribution(before), _contribution(_deal_row(deal_id))
    if old is not None and new is not None and old == new:
        return
    # Touch the two cells in one order (by key) whatever the direction of the move:
    # a deal going Lead → Won while another goes Won → Lead must not deadlock.
    changes = sorted(
        ((part, sign) for part, sign in ((old, -1), (new, +1)) if part is not None),
        key=lambda change: tuple(sorted(change[0][0].items())),
    )
    for part, sign in changes:
        _apply(part, sign)


def forecast_totals() -> dict[tuple, list[int]]:
    """What every forecast cell should hold: ``{sorted key items: [deals, cents, weighted]}``.

    Sums in Python over the deals' rows, in integer cents, so the totals are exact
    whatever the database does with decimals.
    """
    totals: dict[tuple, list[int]] = {}
    rows = (
        Deal.objects.filter(forecast_month__isnull=False)
        .values(*CELL_SOURCE_FIELDS)
        .order_by()
        .iterator(chunk_size=5000)
    )
    for row in rows:
        part = _contribution(row)
        if part is None:
            continue
        key, cents, weighted = part
        slot = totals.setdefault(tuple(sorted(key.items())), [0, 0, 0])
        slot[0] += 1
        slot[1] += cents
        slot[2] += weighted
    return totals


def rebuild_forecast_cells() -> int:
    """Recompute every forecast cell from the deals (after bulk loads); returns the cell count.

    Writes no audit entry: it derives data, it does not change any record.
    """
    cells = [
        ForecastCell(**dict(key), deals=n, amount_cents=cents, weighted_cents=weighted)
        for key, (n, cents, weighted) in forecast_totals().items()
    ]
    with transaction.atomic():
        ForecastCell.objects.all().delete()
        ForecastCell.objects.bulk_create(cells, batch_size=1000)
    return len(cells)


def rebuild_forecast_cells_exactly() -> int:
    """``rebuild_forecast_cells`` that stays exact while deals keep changing (``kith check --fix``).

    On PostgreSQL the cell table is locked against writers first: a deal change that
    already touched a cell has committed before the deals are read, and one that
    has not waits, then adds its difference to the rebuilt cells. SQLite's
    IMMEDIATE transaction already keeps writers out.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                table = connection.ops.quote_name(ForecastCell._meta.db_table)
                cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        return rebuild_forecast_cells()


# ---------------------------------------------------------------- deals


def _lock_deal(deal: Deal) -> None:
    """Reload ``deal`` from its row and lock the row until the transaction ends.

    Every change that computes from a deal's current state (a stage move, an edit,
    a line change, a delete) calls this first inside its transaction, so two requests
    at once cannot both start from the same old state: that broke the stage-history
    chain, recorded a win several times and made forecast cells drift. On SQLite the
    IMMEDIATE transaction already serialises writers; the reload still matters there.
    """
    try:
        deal.refresh_from_db(from_queryset=Deal.objects.select_for_update())
    except Deal.DoesNotExist:
        raise NotFound("No such deal.") from None


@dataclass
class DealValues:
    """Validated values of a deal create/update (only ``present`` keys are applied)."""

    values: dict[str, Any]
    present: set[str]


def _validate_deal_fields(data: dict[str, Any], *, creating: bool) -> DealValues:
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for key in data:
        if key not in DEAL_FIELDS:
            errors.append(FieldError(key, "Unknown field."))
    for key, raw in data.items():
        if key in ("title", "next_step", "lost_reason", "notes"):
            values[key] = _clean_text(raw, key, errors, required=key == "title")
        elif key == "organization":
            values[key] = _check_party(raw, Party.Kind.ORGANIZATION, key, errors)
        elif key == "person":
            values[key] = _check_party(raw, Party.Kind.PERSON, key, errors)
        elif key == "owner":
            if raw is not None and not (isinstance(raw, User) and raw.is_staff_user):
                errors.append(FieldError(key, "Must be an active staff user."))
            values[key] = raw
        elif key == "team":
            if raw is not None and not isinstance(raw, Team):
                errors.append(FieldError(key, "Must be a team."))
            values[key] = raw
        elif key == "visibility":
            if raw not in Visibility.values:
                errors.append(FieldError(key, f"Must be one of: {', '.join(Visibility.values)}."))
            values[key] = raw
        elif key == "amount":
            values[key] = Decimal(0) if raw in (None, "") else clean_money(raw, key, errors)
        elif key == "currency":
            values[key] = clean_currency(raw, key, errors)
        elif key == "probability":
            values[key] = clean_probability(raw, key, errors)
        elif key == "forecast_category":
            if raw not in ForecastCategory.values:
                errors.append(
                    FieldError(key, f"Must be one of: {', '.join(ForecastCategory.values)}.")
                )
            values[key] = raw
        elif key == "expected_close_date":
            values[key] = _clean_date(raw, key, errors)
    if creating and "title" not in data:
        errors.append(FieldError("title", "This field is required."))
    if errors:
        raise ValidationFailed(errors=errors)
    return DealValues(values=values, present=set(data))


def _check_hand_over(actor, values: dict[str, Any], *, current: Deal | None) -> None:
    """Owner, team and visibility changes by the rules of ``kith.accounts.assignment``.

    Only changes count: an edit form re-sending today's owner hands nothing over.
    """
    owner: Any = ...
    team: Any = ...
    visibility = values.get("visibility")
    if "owner" in values and (
        current is None or getattr(values["owner"], "pk", None) != current.owner_id
    ):
        owner = values["owner"]
    if "team" in values and (
        current is None or getattr(values["team"], "pk", None) != current.team_id
    ):
        team = values["team"]
    if current is not None and visibility == current.visibility:
        visibility = None
    assignment.check_record_hand_over(
        actor,
        owner=owner,
        team=team,
        visibility=visibility,
        current_owner_id=current.owner_id if current is not None else None,
        creating=current is None,
    )


def _check_deal_state(deal: Deal, *, has_lines: bool, changed: set[str]) -> None:
    """Cross-field rules that hold whatever changed."""
    errors: list[FieldError] = []
    if deal.organization_id is None and deal.person_id is None:
        errors.append(FieldError("organization", "A deal needs an organisation or a person."))
    if deal.visibility == Visibility.TEAM and deal.team_id is None:
        errors.append(FieldError("team", "A deal visible to a team needs a team."))
    if has_lines and "amount" in changed:
        errors.append(
            FieldError("amount", "Computed from the line items; change the lines instead.")
        )
    if has_lines and "currency" in changed:
        errors.append(
            FieldError("currency", "The line items are priced in this currency; remove them first.")
        )
    if deal.stage.is_won or deal.stage.is_lost:
        if "forecast_category" in changed and deal.forecast_category != ForecastCategory.CLOSED:
            errors.append(
                FieldError("forecast_category", "A won or lost deal is in the closed category.")
            )
    elif deal.forecast_category == ForecastCategory.CLOSED:
        errors.append(
            FieldError("forecast_category", "Only won or lost deals are closed; move the deal.")
        )
    if errors:
        raise ValidationFailed(errors=errors)


def create_deal(
    *,
    actor,
    data: dict[str, Any],
    stage: Stage | None = None,
    pipeline: Pipeline | None = None,
) -> Deal:
    """Create a deal in ``stage`` (default: the first open stage of ``pipeline`` or the default).

    ``data`` holds any of ``DEAL_FIELDS``; ``title`` and an organisation or person are
    required. Owner defaults to the actor, currency to the base currency, probability
    to the stage's default.
    """
    cleaned = _validate_deal_fields(data, creating=True)
    _check_hand_over(actor, cleaned.values, current=None)
    if stage is None:
        pipeline = pipeline or default_pipeline()
        stage = first_open_stage(pipeline) if pipeline else None
        if stage is None:
            raise ValidationFailed.single("stage", "There is no pipeline with stages yet.")
    elif pipeline is not None and stage.pipeline_id != pipeline.pk:
        raise ValidationFailed.single("stage", "That stage belongs to another pipeline.")
    values = cleaned.values
    if stage.is_lost and not values.get("lost_reason"):
        raise ValidationFailed.single("lost_reason", "Say why the deal was lost.")
    now = timezone.now()
    deal = Deal(
        pipeline_id=stage.pipeline_id,
        stage=stage,
        stage_entered_at=now,
        currency=values.pop("currency", None) or base_currency(),
        visibility=values.pop("visibility", None) or Visibility.EVERYONE,
    )
    probability = values.pop("probability", None)
    deal.probability = stage.probability if probability is None else probability
    owner_given = "owner" in cleaned.present
    for key, value in values.items():
        setattr(deal, key, value)
    if not owner_given:
        deal.owner = actor if getattr(actor, "is_staff_user", False) else None
    if stage.is_won or stage.is_lost:
        deal.closed_on = timezone.localdate()
    deal.refresh_derived()
    _check_deal_state(deal, has_lines=False, changed=cleaned.present - {"forecast_category"})
    with transaction.atomic():
        deal.save()
        _refresh_cells(deal.pk, None)
        StageChange.objects.create(
            deal=deal,
            from_stage=None,
            to_stage=stage,
            changed_by=actor if getattr(actor, "is_authenticated", False) else None,
            changed_at=now,
        )
        audit.record(
            actor=actor,
            action="deal.created",
            obj=deal,
            changes=_deal_snapshot(deal),
            party_id=_party_id(deal),
        )
        events.emit(
            "deal.created",
            obj=deal,
            actor=actor,
            data={"title": deal.title, "stage": stage.name, "amount": deal.amount},
        )
    return deal


def update_deal(*, actor, deal: Deal, data: dict[str, Any]) -> Deal:
    """Change any of ``DEAL_FIELDS`` given in ``data``; moving stages is ``move_deal``."""
    cleaned = _validate_deal_fields(data, creating=False)
    with transaction.atomic():
        _lock_deal(deal)
        before = _deal_snapshot(deal)
        _check_hand_over(actor, cleaned.values, current=deal)
        has_lines = deal.lines.exists()
        for key, value in cleaned.values.items():
            if key in ("currency", "visibility") and value is None:
                continue
            setattr(deal, key, value)
        deal.refresh_derived()
        changed = {k for k in cleaned.present if before.get(k) != _deal_snapshot(deal).get(k)}
        if "amount" in cleaned.present and has_lines and deal.amount != before["amount"]:
            changed.add("amount")
        _check_deal_state(deal, has_lines=has_lines, changed=changed)
        changes = audit.diff(before, _deal_snapshot(deal))
        if not changes:
            return deal
        before_row = _deal_row(deal.pk)
        deal.save()
        _refresh_cells(deal.pk, before_row)
        audit.record(
            actor=actor, action="deal.updated", obj=deal, changes=changes, party_id=_party_id(deal)
        )
        events.emit("deal.updated", obj=deal, actor=actor, data={"fields": sorted(changes)})
    return deal


def delete_deal(*, actor, deal: Deal) -> TrashItem:
    """Delete ``deal`` (its lines, contacts and stage history go with it) into the trash."""
    with transaction.atomic():
        _lock_deal(deal)  # a concurrent move must not re-add what this subtracts
        audit.record(
            actor=actor,
            action="deal.deleted",
            obj=deal,
            changes=_deal_snapshot(deal),
            party_id=_party_id(deal),
        )
        events.emit("deal.deleted", obj=deal, actor=actor, data={"title": deal.title})
        _apply(_contribution(_deal_row(deal.pk)), -1)
        item = trash.put(
            actor=actor, kind="deal", obj=deal, label=deal.title, party_id=_party_id(deal)
        )
        deal.delete()
    return item


def deal_people(deal: Deal) -> list[Party]:
    """The people on a deal: its person and its linked contacts, once each, active only."""
    ids = []
    if deal.person_id:
        ids.append(deal.person_id)
    ids += [c for c in deal.contacts.values_list("person_id", flat=True) if c not in ids]
    people = {p.pk: p for p in Party.objects.filter(pk__in=ids, status=Party.Status.ACTIVE)}
    return [people[i] for i in ids if i in people]


def move_deal(
    *,
    actor,
    deal: Deal,
    stage: Stage,
    lost_reason: str = "",
    probability: int | None = None,
    at: dt.datetime | None = None,
) -> Deal:
    """Move ``deal`` to ``stage``: history row, audit, ``deal.stage_changed`` event.

    Winning or losing a deal also logs an interaction on the timeline of every person
    on it, so the customer's history shows the outcome.
    """
    errors: list[FieldError] = []
    reason = _clean_text(lost_reason, "lost_reason", errors)
    if probability is not None:
        probability = clean_probability(probability, "probability", errors)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        # Everything below reads the deal as it is now, under its row lock: a move
        # that lost the race sees the winner's stage (and may then have nothing to do).
        _lock_deal(deal)
        if stage.is_lost and not (reason or deal.lost_reason):
            raise ValidationFailed.single("lost_reason", "Say why the deal was lost.")
        if stage.pk == deal.stage_id and probability is None and not reason:
            return deal
        _move_locked(
            actor=actor, deal=deal, stage=stage, reason=reason, probability=probability, at=at
        )
    return deal


def _move_locked(
    *,
    actor,
    deal: Deal,
    stage: Stage,
    reason: str,
    probability: int | None,
    at: dt.datetime | None,
) -> None:
    """The body of ``move_deal``, run inside its transaction with the deal row locked."""
    # The clock never runs backwards for a deal: a stage is entered no earlier than
    # the previous one was, whatever a caller's ``at`` or a slow thread's clock says.
    now = max(at or timezone.now(), deal.stage_entered_at)
    previous = deal.stage
    seconds = max(0, int((now - deal.stage_entered_at).total_seconds()))
    was_closed = previous.is_won or previous.is_lost
    deal.stage = stage
    deal.pipeline_id = stage.pipeline_id
    deal.probability = stage.probability if probability is None else probability
    if stage.is_won or stage.is_lost:
        if not was_closed or deal.closed_on is None:
            deal.closed_on = timezone.localdate(now)
        if stage.is_lost:
            deal.lost_reason = reason or deal.lost_reason
        else:
            deal.lost_reason = ""
    else:
        deal.closed_on = None
        deal.lost_reason = ""
        if deal.forecast_category == ForecastCategory.CLOSED:
            deal.forecast_category = ForecastCategory.PIPELINE
    moved = stage.pk != previous.pk
    if moved:
        deal.stage_entered_at = now
    deal.refresh_derived()
    before_row = _deal_row(deal.pk)
    deal.save()
    _refresh_cells(deal.pk, before_row)
    if moved:
        StageChange.objects.create(
            deal=deal,
            from_stage=previous,
            to_stage=stage,
            changed_by=actor if getattr(actor, "is_authenticated", False) else None,
            changed_at=now,
            seconds_in_from_stage=seconds,
        )
    audit.record(
        actor=actor,
        action="deal.stage_changed",
        obj=deal,
        changes={
            "stage": [previous.name, stage.name],
            "probability": deal.probability,
            "lost_reason": deal.lost_reason,
        },
        party_id=_party_id(deal),
    )
    events.emit(
        "deal.stage_changed",
        obj=deal,
        actor=actor,
        data={
            "from": str(previous.public_id),
            "to": str(stage.public_id),
            "from_name": previous.name,
            "to_name": stage.name,
            "won": stage.is_won,
            "lost": stage.is_lost,
            "seconds_in_previous_stage": seconds,
        },
    )
    if moved and (stage.is_won or stage.is_lost) and not was_closed:
        outcome = "won" if stage.is_won else "lost"
        summary = f"Deal {outcome}: {deal.title}"
        if stage.is_lost and deal.lost_reason:
            summary += f" ({deal.lost_reason})"
        for person in deal_people(deal):
            interaction_services.log_interaction(
                actor=actor,
                party=person,
                channel=Channel.SYSTEM,
                direction=Direction.INTERNAL,
                kind=f"deal_{outcome}",
                summary=summary[:300],
                occurred_at=now,
                related=deal,
            )


def repair_stage_history(*, actor, deal: Deal) -> list[str]:
    """Make a deal's stage history end where the deal is (``kith check --fix``).

    Adds the missing first entry, or a closing entry when the last one does not lead
    to the deal's stage, and aligns ``stage_entered_at`` with the last entry. A break
    in the middle of the chain is not repaired: no one knows what really happened.
    Returns what was repaired, in words (empty: nothing to do).
    """
    repaired: list[str] = []
    with transaction.atomic():
        _lock_deal(deal)
        last = StageChange.objects.filter(deal=deal).order_by("-id").first()
        if last is None:
            StageChange.objects.create(
                deal=deal, from_stage=None, to_stage=deal.stage, changed_at=deal.stage_entered_at
            )
            repaired.append("added the missing first entry")
        elif last.to_stage_id != deal.stage_id:
            at = max(deal.stage_entered_at, last.changed_at)
            StageChange.objects.create(
                deal=deal,
                from_stage_id=last.to_stage_id,
                to_stage=deal.stage,
                changed_at=at,
                seconds_in_from_stage=int((at - last.changed_at).total_seconds()),
            )
            deal.stage_entered_at = at
            deal.save(update_fields=["stage_entered_at", "updated_at"])
            repaired.append("added an entry leading to the current stage")
        elif deal.stage_entered_at != last.changed_at:
            deal.stage_entered_at = last.changed_at
            deal.save(update_fields=["stage_entered_at", "updated_at"])
            repaired.append("set stage_entered_at to the last entry's time")
        if repaired:
            audit.record(
                actor=actor,
                action="deal.history_repaired",
                obj=deal,
                changes={"repaired": repaired},
                party_id=_party_id(deal),
            )
    return repaired


# ---------------------------------------------------------------- line items


def _recompute_amount(deal: Deal) -> None:
    lines = list(deal.lines.all())
    if lines:
        before_row = _deal_row(deal.pk)
        deal.amount = sum((line.total for line in lines), Decimal(0)).quantize(CENT)
        deal.save(update_fields=["amount", "updated_at"])
        _refresh_cells(deal.pk, before_row)


def _validate_line(
    deal: Deal,
    *,
    product: Product | None,
    description: str,
    quantity: Any,
    unit_price: Any,
    discount: Any,
    product_changed: bool,
) -> dict[str, Any]:
    errors: list[FieldError] = []
    description = _clean_text(description, "description", errors)
    if product is not None and product_changed:
        if not product.active:
            errors.append(FieldError("product", "That product is no longer sold."))
        if unit_price is None and product.currency != deal.currency:
            errors.append(
                FieldError(
                    "unit_price",
                    f"The product is priced in {product.currency} and the deal is in "
                    f"{deal.currency}; give a unit price in {deal.currency}.",
                )
            )
    if product is None and not description:
        errors.append(FieldError("description", "Pick a product or describe the line."))
    if unit_price is None:
        unit_price = product.unit_price if product is not None else None
    if unit_price is None:
        errors.append(FieldError("unit_price", "This field is required."))
    else:
        unit_price = clean_money(unit_price, "unit_price", errors)
    try:
        qty = quantity if isinstance(quantity, Decimal) else Decimal(str(quantity).strip())
        if not qty.is_finite() or qty <= 0 or qty >= Decimal("1e9") or qty != qty.quantize(CENT):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors.append(
            FieldError("quantity", "Must be a positive number with two decimals at most.")
        )
        qty = None
    disc = clean_money(discount if discount not in (None, "") else 0, "discount", errors)
    if not errors and disc > qty * unit_price:
        errors.append(FieldError("discount", "Cannot exceed quantity × unit price."))
    if errors:
        raise ValidationFailed(errors=errors)
    return {
        "product": product,
        "description": description,
        "quantity": qty,
        "unit_price": unit_price,
        "discount": disc,
    }


def add_line(
    *,
    actor,
    deal: Deal,
    product: Product | None = None,
    description: str = "",
    quantity: Any = 1,
    unit_price: Any = None,
    discount: Any = 0,
) -> DealLine:
    """Add a line item; the deal's amount becomes the sum of its lines."""
    values = _validate_line(
        deal,
        product=product,
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        discount=discount,
        product_changed=True,
    )
    with transaction.atomic():
        _lock_deal(deal)  # serialises line changes: positions and the summed amount
        position = (deal.lines.aggregate(m=Max("position"))["m"] or 0) + 1
        line = DealLine.objects.create(deal=deal, position=position, **values)
        _recompute_amount(deal)
        audit.record(
            actor=actor,
            action="deal.line_added",
            obj=deal,
            changes={"line": str(line.public_id), "total": line.total, "amount": deal.amount},
            party_id=_party_id(deal),
        )
        events.emit("deal.line_added", obj=deal, actor=actor, data={"line": str(line.public_id)})
    return line


def update_line(*, actor, line: DealLine, data: dict[str, Any]) -> DealLine:
    """Change a line item's product, description, quantity, unit price or discount."""
    unknown = set(data) - {"product", "description", "quantity", "unit_price", "discount"}
    if unknown:
        raise ValidationFailed(errors=[FieldError(k, "Unknown field.") for k in sorted(unknown)])
    deal = line.deal
    with transaction.atomic():
        # Lock the deal, then read the line as it is now: the values left out of
        # ``data`` come from the line, and must not be a concurrent edit's old ones.
        _lock_deal(deal)
        try:
            line.refresh_from_db()
        except DealLine.DoesNotExist:
            raise NotFound("No such line.") from None
        product = data.get("product", line.product)
        values = _validate_line(
            deal,
            product=product,
            description=data.get("description", line.description),
            quantity=data.get("quantity", line.quantity),
            unit_price=data.get(
                "unit_price",
                None if ("product" in data and product != line.product) else line.unit_price,
            ),
            discount=data.get("discount", line.discount),
            product_changed="product" in data and product != line.product,
        )
        for key, value in values.items():
            setattr(line, key, value)
        line.save()
        _recompute_amount(deal)
        audit.record(
            actor=actor,
            action="deal.line_updated",
            obj=deal,
            changes={"line": str(line.public_id), "total": line.total, "amount": deal.amount},
            party_id=_party_id(deal),
        )
        events.emit("deal.line_updated", obj=deal, actor=actor, data={"line": str(line.public_id)})
    return line


def remove_line(*, actor, line: DealLine) -> None:
    """Remove a line item; with no lines left the amount stays and becomes editable."""
    deal = line.deal
    with transaction.atomic():
        _lock_deal(deal)
        public_id = str(line.public_id)
        line.delete()
        _recompute_amount(deal)
        audit.record(
            actor=actor,
            action="deal.line_removed",
            obj=deal,
            changes={"line": public_id, "amount": deal.amount},
            party_id=_party_id(deal),
        )
        events.emit("deal.line_removed", obj=deal, actor=actor, data={"line": public_id})


# ---------------------------------------------------------------- people on a deal


def add_contact(*, actor, deal: Deal, person: Party, role: str = "") -> DealContact:
    """Link ``person`` to ``deal`` with their ``role``; linking again updates the role."""
    errors: list[FieldError] = []
    _check_party(person, Party.Kind.PERSON, "person", errors)
    role = " ".join(str(role or "").split())
    if len(role) > 80:
        errors.append(FieldError("role", "At most 80 characters."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        # Lock the deal so two concurrent links of the same person make one row.
        Deal.objects.select_for_update().filter(pk=deal.pk).first()
        contact = DealContact.objects.filter(deal=deal, person=person).order_by("id").first()
        if contact is None:
            contact = DealContact.objects.create(deal=deal, person=person, role=role)
        elif contact.role != role:
            contact.role = role
            contact.save(update_fields=["role", "updated_at"])
        audit.record(
            actor=actor,
            action="deal.contact_added",
            obj=deal,
            changes={"person": person.public_id, "role": role},
            party_id=person.pk,
        )
        events.emit(
            "deal.contact_added",
            obj=deal,
            actor=actor,
            data={"person": str(person.public_id), "role": role},
        )
    return contact


def fold_merged_contacts(*, keep: Party) -> int:
    """After a merge, keep one contact row per deal for ``keep``; returns rows removed.

    Called from the ``party_merged`` receiver inside the merge transaction. The role
    kept is the first non-empty one, so "Champion" is not lost to an empty duplicate.
    """
    removed = 0
    rows = list(DealContact.objects.filter(person=keep).order_by("deal_id", "id"))
    by_deal: dict[int, list[DealContact]] = {}
    for row in rows:
        by_deal.setdefault(row.deal_id, []).append(row)
    for same in by_deal.values():
        if len(same) < 2:
            continue
        first = same[0]
        if not first.role:
            first.role = next((r.role for r in same if r.role), "")
            first.save(update_fields=["role", "updated_at"])
        DealContact.objects.filter(pk__in=[r.pk for r in same[1:]]).delete()
        removed += len(same) - 1
    return removed


def remove_contact(*, actor, contact: DealContact) -> None:
    deal = contact.deal
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="deal.contact_removed",
            obj=deal,
            changes={"person": contact.person.public_id, "role": contact.role},
            party_id=contact.person_id,
        )
        events.emit(
            "deal.contact_removed",
            obj=deal,
            actor=actor,
            data={"person": str(contact.person.public_id)},
        )
        contact.delete()


# ---------------------------------------------------------------- products


def _product_values(
    data: dict[str, Any], *, creating: bool, exclude: int | None = None
) -> dict[str, Any]:
    errors: list[FieldError] = []
    allowed = {"name", "sku", "description", "unit_price", "currency", "active"}
    values: dict[str, Any] = {}
    for key, raw in data.items():
        if key not in allowed:
            errors.append(FieldError(key, "Unknown field."))
        elif key == "name":
            values[key] = _clean_text(raw, key, errors, required=True)[:200]
        elif key == "sku":
            sku = str(raw or "").strip()
            if not sku:
                errors.append(FieldError(key, "This field is required."))
            elif len(sku) > 64 or any(c.isspace() for c in sku):
                errors.append(FieldError(key, "Up to 64 characters without spaces."))
            values[key] = sku
        elif key == "description":
            values[key] = str(raw or "").strip()[:5000]
        elif key == "unit_price":
            values[key] = clean_money(raw, key, errors)
        elif key == "currency":
            values[key] = clean_currency(raw, key, errors)
        elif key == "active":
            values[key] = bool(raw)
    if creating:
        for key in ("name", "sku", "unit_price"):
            if key not in data:
                errors.append(FieldError(key, "This field is required."))
    sku = values.get("sku")
    if sku and Product.objects.filter(sku__iexact=sku).exclude(pk=exclude).exists():
        errors.append(FieldError("sku", "Another product has this SKU."))
    if errors:
        raise ValidationFailed(errors=errors)
    return values


def create_product(*, actor, data: dict[str, Any]) -> Product:
    values = _product_values(data, creating=True)
    values.setdefault("currency", base_currency())
    try:
        with transaction.atomic():
            product = Product.objects.create(**values)
            audit.record(actor=actor, action="product.created", obj=product, changes=values)
            events.emit("product.created", obj=product, actor=actor, data={"sku": product.sku})
    except IntegrityError as exc:
        raise Conflict("Another product took this SKU at the same moment.") from exc
    return product


def update_product(*, actor, product: Product, data: dict[str, Any]) -> Product:
    values = _product_values(data, creating=False, exclude=product.pk)
    before = {k: getattr(product, k) for k in values}
    for key, value in values.items():
        setattr(product, key, value)
    changes = audit.diff(before, values)
    if not changes:
        return product
    try:
        with transaction.atomic():
            # Only the fields given: a concurrent edit of other fields is not overwritten.
            product.save(update_fields=[*values, "updated_at"])
            audit.record(actor=actor, action="product.updated", obj=product, changes=changes)
            events.emit(
                "product.updated", obj=product, actor=actor, data={"fields": sorted(changes)}
            )
    except IntegrityError as exc:
        raise Conflict("Another product took this SKU at the same moment.") from exc
    return product


def delete_product(*, actor, product: Product) -> None:
    """Delete a product no deal uses; a product on a deal can only be deactivated."""
    if product.lines.exists():
        raise Conflict("This product is on deals; deactivate it instead.")
    with transaction.atomic():
        audit.record(
            actor=actor, action="product.deleted", obj=product, changes={"sku": product.sku}
        )
        events.emit("product.deleted", obj=product, actor=actor, data={"sku": product.sku})
        product.delete()


# ---------------------------------------------------------------- pipelines and stages


@dataclass
class StageInput:
    name: str
    probability: int = 0
    is_won: bool = False
    is_lost: bool = False


def _stage_errors(stage: StageInput, prefix: str) -> list[FieldError]:
    errors: list[FieldError] = []
    name = " ".join(str(stage.name or "").split())
    if not name:
        errors.append(FieldError(f"{prefix}name", "This field is required."))
    elif len(name) > 80:
        errors.append(FieldError(f"{prefix}name", "At most 80 characters."))
    clean_probability(stage.probability, f"{prefix}probability", errors)
    if stage.is_won and stage.is_lost:
        errors.append(FieldError(f"{prefix}is_lost", "A stage cannot be both won and lost."))
    return errors


def _pipeline_name(name: str, errors: list[FieldError], *, exclude: int | None = None) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        errors.append(FieldError("name", "This field is required."))
    elif len(name) > 120:
        errors.append(FieldError("name", "At most 120 characters."))
    elif Pipeline.objects.filter(name__iexact=name).exclude(pk=exclude).exists():
        errors.append(FieldError("name", "Another pipeline has this name."))
    return name


def create_pipeline(
    *, actor, name: str, stages: list[StageInput], is_default: bool = False
) -> Pipeline:
    """A pipeline with its stages in the given order; at least one open stage."""
    errors: list[FieldError] = []
    name = _pipeline_name(name, errors)
    if not any(not (s.is_won or s.is_lost) for s in stages):
        errors.append(FieldError("stages", "A pipeline needs at least one open stage."))
    seen: set[str] = set()
    for i, stage in enumerate(stages):
        errors += _stage_errors(stage, f"stages[{i}].")
        key = " ".join(str(stage.name or "").split()).casefold()
        if key in seen:
            errors.append(FieldError(f"stages[{i}].name", "Two stages have this name."))
        seen.add(key)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        if is_default:
            Pipeline.objects.filter(is_default=True).update(is_default=False)
        pipeline = Pipeline.objects.create(name=name, is_default=is_default)
        Stage.objects.bulk_create(
            [
                Stage(
                    pipeline=pipeline,
                    name=" ".join(s.name.split()),
                    order=i,
                    probability=int(s.probability),
                    is_won=s.is_won,
                    is_lost=s.is_lost,
                )
                for i, s in enumerate(stages, start=1)
            ]
        )
        audit.record(
            actor=actor,
            action="pipeline.created",
            obj=pipeline,
            changes={"name": name, "stages": [s.name for s in stages]},
        )
        events.emit("pipeline.created", obj=pipeline, actor=actor, data={"name": name})
    return pipeline


def update_pipeline(
    *,
    actor,
    pipeline: Pipeline,
    name: str | None = None,
    is_default: bool | None = None,
    active: bool | None = None,
) -> Pipeline:
    errors: list[FieldError] = []
    before = {"name": pipeline.name, "is_default": pipeline.is_default, "active": pipeline.active}
    if name is not None:
        pipeline.name = _pipeline_name(name, errors, exclude=pipeline.pk)
    if errors:
        raise ValidationFailed(errors=errors)
    if active is not None:
        pipeline.active = active
    if is_default is not None:
        pipeline.is_default = is_default
    changes = audit.diff(
        before,
        {"name": pipeline.name, "is_default": pipeline.is_default, "active": pipeline.active},
    )
    if not changes:
        return pipeline
    with transaction.atomic():
        if pipeline.is_default:
            Pipeline.objects.filter(is_default=True).exclude(pk=pipeline.pk).update(
                is_default=False
            )
        pipeline.save()
        audit.record(actor=actor, action="pipeline.updated", obj=pipeline, changes=changes)
        events.emit("pipeline.updated", obj=pipeline, actor=actor, data={"fields": sorted(changes)})
    return pipeline


def delete_pipeline(*, actor, pipeline: Pipeline) -> None:
    if pipeline.deals.exists():
        raise Conflict("This pipeline has deals; move them or deactivate the pipeline.")
    with transaction.atomic():
        audit.record(
            actor=actor, action="pipeline.deleted", obj=pipeline, changes={"name": pipeline.name}
        )
        events.emit("pipeline.deleted", obj=pipeline, actor=actor, data={"name": pipeline.name})
        pipeline.delete()


def _lock_pipeline(pipeline_id: int) -> None:
    """Serialise changes to one pipeline's stages (their order is read, then rewritten)."""
    Pipeline.objects.select_for_update().filter(pk=pipeline_id).first()


def add_stage(
    *, actor, pipeline: Pipeline, stage: StageInput, position: int | None = None
) -> Stage:
    """Add a stage at ``position`` (1-based; default last)."""
    errors = _stage_errors(stage, "")
    name = " ".join(str(stage.name or "").split())
    if pipeline.stages.filter(name__iexact=name).exists():
        errors.append(FieldError("name", "This pipeline already has a stage with this name."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        _lock_pipeline(pipeline.pk)  # the stage order is read, then rewritten
        stages = list(pipeline.stages.order_by("order", "id"))
        index = len(stages) if position is None else max(0, min(len(stages), position - 1))
        created = Stage(
            pipeline=pipeline,
            name=name,
            probability=int(stage.probability),
            is_won=stage.is_won,
            is_lost=stage.is_lost,
        )
        stages.insert(index, created)
        for order, item in enumerate(stages, start=1):
            item.order = order
        created.save()
        Stage.objects.bulk_update([s for s in stages if s.pk], ["order"])
        audit.record(
            actor=actor,
            action="pipeline.stage_added",
            obj=pipeline,
            changes={"stage": name, "order": created.order},
        )
        events.emit("pipeline.stage_added", obj=pipeline, actor=actor, data={"stage": name})
    return created


def update_stage(*, actor, stage: Stage, data: dict[str, Any]) -> Stage:
    """Rename, reprice (default probability), flag won/lost or move (``position``) a stage.

    A new default probability applies to deals entering the stage from now on.
    """
    unknown = set(data) - {"name", "probability", "is_won", "is_lost", "position"}
    if unknown:
        raise ValidationFailed(errors=[FieldError(k, "Unknown field.") for k in sorted(unknown)])
    merged = StageInput(
        name=data.get("name", stage.name),
        probability=data.get("probability", stage.probability),
        is_won=data.get("is_won", stage.is_won),
        is_lost=data.get("is_lost", stage.is_lost),
    )
    errors = _stage_errors(merged, "")
    name = " ".join(str(merged.name or "").split())
    if stage.pipeline.stages.filter(name__iexact=name).exclude(pk=stage.pk).exists():
        errors.append(FieldError("name", "This pipeline already has a stage with this name."))
    if (merged.is_won, merged.is_lost) != (stage.is_won, stage.is_lost) and stage.deals.exists():
        errors.append(FieldError("is_won", "Deals are in this stage; its outcome cannot change."))
    if errors:
        raise ValidationFailed(errors=errors)
    before = {"name": stage.name, "probability": stage.probability, "order": stage.order}
    with transaction.atomic():
        _lock_pipeline(stage.pipeline_id)  # the stage order is read, then rewritten
        stage.name = name
        stage.probability = int(merged.probability)
        stage.is_won, stage.is_lost = merged.is_won, merged.is_lost
        stage.save()
        if data.get("position") is not None:
            stages = [s for s in stage.pipeline.stages.order_by("order", "id") if s.pk != stage.pk]
            index = max(0, min(len(stages), int(data["position"]) - 1))
            stages.insert(index, stage)
            for order, item in enumerate(stages, start=1):
                item.order = order
            Stage.objects.bulk_update(stages, ["order"])
        changes = audit.diff(
            before, {"name": stage.name, "probability": stage.probability, "order": stage.order}
        )
        audit.record(
            actor=actor, action="pipeline.stage_updated", obj=stage.pipeline, changes=changes
        )
        events.emit(
            "pipeline.stage_updated",
            obj=stage.pipeline,
            actor=actor,
            data={"stage": str(stage.public_id)},
        )
    return stage


def delete_stage(*, actor, stage: Stage) -> None:
    """Delete a stage no deal is in or ever passed through (history must stay whole)."""
    pipeline = stage.pipeline
    with transaction.atomic():
        # Check under the locks: a deal that moved in since the page was loaded keeps
        # the stage (its history would otherwise be deleted with it).
        _lock_pipeline(pipeline.pk)
        Stage.objects.select_for_update().filter(pk=stage.pk).first()
        if stage.deals.exists():
            raise Conflict("Deals are in this stage; move them first.")
        if (
            StageChange.objects.filter(to_stage=stage).exists()
            or StageChange.objects.filter(from_stage=stage).exists()
        ):
            raise Conflict("Deals passed through this stage; its history must stay.")
        if not pipeline.stages.exclude(pk=stage.pk).filter(is_won=False, is_lost=False).exists():
            raise ValidationFailed.single("stage", "A pipeline needs at least one open stage.")
        audit.record(
            actor=actor,
            action="pipeline.stage_removed",
            obj=pipeline,
            changes={"stage": stage.name},
        )
        events.emit("pipeline.stage_removed", obj=pipeline, actor=actor, data={"stage": stage.name})
        stage.delete()
        for order, item in enumerate(pipeline.stages.order_by("order", "id"), start=1):
            if item.order != order:
                item.order = order
                item.save(update_fields=["order"])


# ---------------------------------------------------------------- exchange rates


def set_exchange_rate(*, actor, currency: str, rate: Any, valid_from: Any) -> ExchangeRate:
    """Record ``1 currency = rate × base`` from ``valid_from``; the same day again replaces it."""
    errors: list[FieldError] = []
    code = clean_currency(currency, "currency", errors)
    if code and code == base_currency():
        errors.append(FieldError("currency", f"{code} is the base currency; its rate is 1."))
    try:
        value = rate if isinstance(rate, Decimal) else Decimal(str(rate).strip())
        if not value.is_finite() or value <= 0 or value >= Decimal("1e12"):
            raise InvalidOperation
        if value != value.quantize(Decimal("0.00000001")):
            errors.append(FieldError("rate", "At most eight decimal places."))
    except (InvalidOperation, ValueError):
        errors.append(FieldError("rate", "Must be a positive decimal number."))
        value = None
    day = _clean_date(valid_from, "valid_from", errors)
    if day is None and not any(e.field == "valid_from" for e in errors):
        errors.append(FieldError("valid_from", "This field is required."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        obj, _created = ExchangeRate.objects.update_or_create(
            currency=code, valid_from=day, defaults={"rate": value}
        )
        audit.record(
            actor=actor,
            action="exchange_rate.set",
            obj=obj,
            changes={"currency": code, "rate": value, "valid_from": day},
        )
        events.emit(
            "exchange_rate.set",
            obj=obj,
            actor=actor,
            data={"currency": code, "rate": value, "valid_from": day},
        )
    return obj


def delete_exchange_rate(*, actor, rate: ExchangeRate) -> None:
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="exchange_rate.deleted",
            obj=rate,
            changes={"currency": rate.currency, "valid_from": rate.valid_from},
        )
        events.emit(
            "exchange_rate.deleted", obj=rate, actor=actor, data={"currency": rate.currency}
        )
        rate.delete()


# ---------------------------------------------------------------- trash


def _check_deal_restore(user, deal: Deal) -> None:
    """Who may delete a deal may restore it (the delete's own check, on the restored row)."""
    from kith.sales import access

    access.get_deal_for_change(user, deal.public_id)


def _after_deal_restore(*, actor, obj: Deal, item: TrashItem) -> None:
    """The deal counts in the forecast again; its feed says it was deleted and restored."""
    from kith.collab import services as collab_services

    _lock_deal(obj)
    _apply(_contribution(_deal_row(obj.pk)), +1)
    collab_services.record_system_event(
        actor=actor,
        target=obj,
        event_name="deal.restored",
        line=f"Deal deleted by {item.deleted_by_label} on {item.deleted_at:%Y-%m-%d %H:%M} UTC, "
        "restored from the trash",
    )


def _deal_url(deal: Deal) -> str:
    from django.urls import reverse

    return reverse("sales:deal", kwargs={"public_id": deal.public_id})


trash.register(
    trash.Kind(
        name="deal",
        model=Deal,
        check_restore=_check_deal_restore,
        after_restore=_after_deal_restore,
        url=_deal_url,
    )
)
