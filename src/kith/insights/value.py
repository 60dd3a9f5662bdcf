"""Customer value services: CLV and CRV runs, referrals, the CLV × CRV segments.

* **CLV** (``kith.insights.clv``): BG/NBD + Gamma-Gamma fitted on the orders of
  ``kith.interactions.Transaction`` (refunds reduce a person's spend; amounts converted
  into the base currency with ``kith.sales`` exchange rates), checked on a holdout
  (the last ``holdout_days``) before the final fit on everything.
* **CRV** (Kumar, Petersen & Leone 2007): the value a person brings through the
  customers they referred. A referred customer who would *not* have come otherwise
  counts with their whole CLV; one who would have come anyway only with the acquisition
  cost their referral saved; the incentive paid is subtracted. Where a referral does not
  say, the run's ``anyway_share`` is the probability that the customer would have come
  anyway (so a referral counts ``(1 − share) × CLV + share × saving − incentive``).
  CRV here is forward-looking, like CLV: it is made of the referred customers' predicted
  (discounted) value, not of what they already bought.
* **Segments**: CLV and CRV each split at their median over the people scored, giving
  champions (high, high), affluents (high CLV), advocates (high CRV) and misers.

People who may not be profiled (``kith.cmr`` "profiling" consent) are left out of the
fit and get no figures at all, and their referrals are not counted. The worker runs the
computation (``tasks.compute_value_task``); progress is written as it goes; the values
replace the previous run's in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import defaultdict
from decimal import Decimal

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from kith.core import audit, events
from kith.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kith.people.models import Party

from .models_value import PersonValue, Referral, ValueRun

logger = logging.getLogger("kith.insights")

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
STALE_AFTER = dt.timedelta(hours=1)

LIMITS = {
    "discount_rate": (0.0, 1.0, "Between 0 and 1 (a yearly rate: 0.1 is 10 %)."),
    "horizon_months": (1, 120, "Between 1 and 120 months."),
    "margin": (0.01, 1.0, "Between 0.01 and 1 (the share of revenue that is profit)."),
    "holdout_days": (14, 730, "Between 14 and 730 days."),
    "anyway_share": (0.0, 1.0, "Between 0 and 1."),
    "acquisition_cost": (0.0, 1_000_000.0, "Between 0 and 1,000,000."),
}
DEFAULTS = {
    "discount_rate": 0.10,
    "horizon_months": 12,
    "margin": 0.3,
    "holdout_days": 90,
    "anyway_share": 0.3,
    "acquisition_cost": 0.0,
}


# ---------------------------------------------------------------- runs


def request_value_run(*, actor, **params) -> ValueRun:
    """Queue a computation of customer value for the worker (one at a time: 409 otherwise).

    Only one run may be queued or running: the database enforces it (a unique
    ``in_flight`` flag), so two requests racing each other give one run and one conflict.
    A running run silent for an hour lost its worker and no longer blocks.
    """
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ValidationFailed(errors=[FieldError(k, "Unknown parameter.") for k in unknown])
    values = {**DEFAULTS, **{k: v for k, v in params.items() if v is not None}}
    errors = []
    for key, (low, high, message) in LIMITS.items():
        try:
            number = float(values[key])
        except (TypeError, ValueError):
            errors.append(FieldError(key, message))
            continue
        if not (low <= number <= high) or number != number:
            errors.append(FieldError(key, message))
    if errors:
        raise ValidationFailed(errors=errors)
    values["horizon_months"] = int(values["horizon_months"])
    values["holdout_days"] = int(values["holdout_days"])
    from kith.sales.models import base_currency

    # A run silent for an hour lost its worker (or was never picked up): it no longer
    # blocks a new request.
    ValueRun.objects.filter(in_flight=True, updated_at__lt=timezone.now() - STALE_AFTER).update(
        status=ValueRun.Status.FAILED,
        in_flight=None,
        message="The worker stopped reporting progress.",
        finished_at=timezone.now(),
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                run = ValueRun.objects.create(
                    requested_by=actor if getattr(actor, "pk", None) else None,
                    currency=base_currency(),
                    **values,
                )
        except IntegrityError:
            raise Conflict("A customer value computation is already queued or running.") from None
        audit.record(actor=actor, action="insights.value.requested", obj=run)
        events.emit("value_run.requested", obj=run, actor=actor)
        from kith.insights.tasks_value import compute_value_task

        # Stored by the database backend in this same transaction: both or neither.
        compute_value_task.enqueue(run.pk)
    return run


def _progress(run_id: int, percent: int, stage: str) -> None:
    ValueRun.objects.filter(pk=run_id).update(
        percent=max(0, min(100, percent)), stage=stage[:120], updated_at=timezone.now()
    )


def _days(when: dt.datetime) -> float:
    return (when - EPOCH).total_seconds() / 86400.0


def gather_purchases(
    person_ids: set[int], *, now: dt.datetime
) -> tuple[dict[int, list[tuple[float, float]]], list[str]]:
    """Each person's orders as ``(day, amount in base currency)``, net of refunds.

    A person's refunds scale all their orders down by the same factor (net / gross),
    so a refunded customer spends less without losing the purchase dates. Answers the
    purchases and the currencies left out for want of an exchange rate.
    """
    from kith.interactions.models import Transaction
    from kith.sales.queries import rates_on

    rows = list(
        Transaction.objects.filter(
            party_id__in=person_ids,
            kind__in=[Transaction.Kind.ORDER, Transaction.Kind.REFUND],
            occurred_at__lt=now,
        ).values_list("party_id", "kind", "amount", "currency", "occurred_at")
    )
    rates, missing = rates_on({r[3].upper() for r in rows}, now.date())
    orders: dict[int, list[tuple[float, float]]] = defaultdict(list)
    refunds: dict[int, float] = defaultdict(float)
    for party, kind, amount, currency, when in rows:
        rate = rates.get(currency.upper())
        if rate is None:
            continue
        value = float(Decimal(amount) * rate)
        if kind == Transaction.Kind.REFUND:
            refunds[party] += value
        else:
            orders[party].append((_days(when), value))
    for party, refunded in refunds.items():
        gross = sum(v for _, v in orders.get(party, []))
        if gross > 0:
            factor = max(gross - refunded, 0.0) / gross
            orders[party] = [(d, v * factor) for d, v in orders[party]]
    return dict(orders), missing


def _weight(referral: Referral, anyway_share: float) -> float:
    """Probability that the referred customer came *because* of the referral."""
    if referral.would_have_come is None:
        return 1.0 - anyway_share
    return 0.0 if referral.would_have_come else 1.0


def referral_values(
    clv_by_party: dict[int, float],
    *,
    allowed: set[int],
    anyway_share: float,
    acquisition_cost: float,
) -> tuple[dict[int, float], dict[int, int]]:
    """CRV and number of (counted) referrals per referrer (see the module docstring)."""
    crv: dict[int, float] = defaultdict(float)
    count: dict[int, int] = defaultdict(int)
    for ref in Referral.objects.filter(referrer_id__in=allowed, referred_id__in=allowed):
        w = _weight(ref, anyway_share)
        value = (
            w * clv_by_party.get(ref.referred_id, 0.0)
            + (1.0 - w) * acquisition_cost
            - float(ref.incentive)
        )
        crv[ref.referrer_id] += value
        count[ref.referrer_id] += 1
    return dict(crv), dict(count)


def segment_of(clv: float, crv: float, clv_median: float, crv_median: float) -> str:
    """The 2 × 2 of Kumar, Petersen & Leone: above the median is "high"."""
    high_clv, high_crv = clv > clv_median, crv > crv_median
    if high_clv and high_crv:
        return PersonValue.Segment.CHAMPION
    if high_clv:
        return PersonValue.Segment.AFFLUENT
    if high_crv:
        return PersonValue.Segment.ADVOCATE
    return PersonValue.Segment.MISER


def run_value(*, run_id: int, now: dt.datetime | None = None) -> ValueRun:
    """Compute the queued run ``run_id``: holdout check, fit, CLV, CRV, segments, save.

    Claimed once by a conditional update (a second worker given the same run returns
    at once). Too little data is a clear result (a finished run with a message and no
    figures), not a failure.
    """
    from kith.insights import clv
    from kith.insights.services import profiling_allowed

    claimed = ValueRun.objects.filter(pk=run_id, status=ValueRun.Status.QUEUED).update(
        status=ValueRun.Status.RUNNING, started_at=timezone.now(), percent=1
    )
    run = ValueRun.objects.get(pk=run_id)
    if not claimed:
        return run
    now = now or timezone.now()
    try:
        _progress(run_id, 3, "Reading people and consents")
        people = set(
            Party.objects.filter(kind=Party.Kind.PERSON, status=Party.Status.ACTIVE).values_list(
                "id", flat=True
            )
        )
        allowed = profiling_allowed(people)
        _progress(run_id, 10, "Reading transactions")
        purchases, missing = gather_purchases(allowed, now=now)
        excluded_buyers = len(set(_transaction_party_ids(people - allowed, now)))
        now_days = _days(now)
        notes = []
        if missing:
            notes.append(
                "Transactions in " + ", ".join(missing) + " were left out: no exchange rate."
            )
        _progress(run_id, 20, "Checking the models on the holdout period")
        try:
            validation = clv.holdout_check(
                purchases, now_days=now_days, holdout_days=float(run.holdout_days)
            )
        except clv.NotEnoughData as exc:
            validation = {"skipped": f"No holdout check: {exc}"}
        _progress(run_id, 50, "Fitting BG/NBD and Gamma-Gamma")
        data = clv.rfm(purchases, now_days=now_days)
        try:
            model = clv.fit(data)
        except clv.NotEnoughData as exc:
            return _finish_empty(run_id, data, excluded_buyers, validation, notes, str(exc))
        _progress(run_id, 70, "Predicting lifetime value")
        pred = clv.predict(
            model,
            data,
            horizon_months=run.horizon_months,
            yearly_discount=run.discount_rate,
            margin=run.margin,
        )
        clv_by_party = {k: float(v) for k, v in zip(data.keys, pred.clv, strict=True)}
        _progress(run_id, 80, "Referral value")
        crv, referred = referral_values(
            clv_by_party,
            allowed=allowed,
            anyway_share=run.anyway_share,
            acquisition_cost=run.acquisition_cost,
        )
        _progress(run_id, 90, "Saving values")
        index = {k: i for i, k in enumerate(data.keys)}
        party_ids = sorted(set(data.keys) | set(crv))
        clvs = [clv_by_party.get(p, 0.0) for p in party_ids]
        crvs = [crv.get(p, 0.0) for p in party_ids]
        clv_median = float(np.median(clvs)) if clvs else 0.0
        crv_median = float(np.median(crvs)) if crvs else 0.0
        rows = []
        for p, c_lv, c_rv in zip(party_ids, clvs, crvs, strict=True):
            i = index.get(p)
            rows.append(
                PersonValue(
                    party_id=p,
                    frequency=int(data.frequency[i]) if i is not None else 0,
                    recency_weeks=float(data.recency[i]) if i is not None else 0.0,
                    age_weeks=float(data.T[i]) if i is not None else 0.0,
                    average_spend=float(data.monetary[i]) if i is not None else 0.0,
                    total_spend=float(data.total[i]) if i is not None else 0.0,
                    purchases=int(data.purchases[i]) if i is not None else 0,
                    p_alive=float(pred.p_alive[i]) if i is not None else None,
                    expected_purchases=float(pred.expected_purchases[i]) if i is not None else None,
                    clv=c_lv,
                    crv=c_rv,
                    referred_count=referred.get(p, 0),
                    segment=segment_of(c_lv, c_rv, clv_median, crv_median),
                )
            )
        return _save(
            run_id,
            rows,
            params=model.params,
            validation=validation,
            thresholds={"clv_median": clv_median, "crv_median": crv_median},
            customers=len(data),
            excluded=excluded_buyers,
            message=" ".join(notes),
        )
    except Exception as exc:
        logger.exception("value run %s failed", run_id)
        ValueRun.objects.filter(pk=run_id).update(
            status=ValueRun.Status.FAILED,
            in_flight=None,
            message=f"The computation failed: {type(exc).__name__}.",
            finished_at=timezone.now(),
        )
        raise


def _transaction_party_ids(party_ids: set[int], now: dt.datetime):
    from kith.interactions.models import Transaction

    if not party_ids:
        return []
    return (
        Transaction.objects.filter(party_id__in=party_ids, occurred_at__lt=now)
        .values_list("party_id", flat=True)
        .distinct()
    )


def _finish_empty(run_id, data, excluded, validation, notes, reason: str) -> ValueRun:
    return _save(
        run_id,
        [],
        params={},
        validation=validation,
        thresholds={},
        customers=len(data),
        excluded=excluded,
        message=" ".join([f"Not enough purchase history to estimate value: {reason}", *notes]),
    )


def _save(
    run_id: int,
    rows: list[PersonValue],
    *,
    params: dict,
    validation: dict,
    thresholds: dict,
    customers: int,
    excluded: int,
    message: str,
) -> ValueRun:
    """Replace the current values with ``rows`` in one transaction, holding the run's lock.

    Every other run's values go: readers see the old figures or the new ones, never a
    mixture, and a run finishing after a newer one does not leave two sets behind.
    """
    with transaction.atomic():
        # Lock this run and every other running one (in id order: no deadlock), so two
        # runs finishing together save one after the other and the second sees the
        # first's figures to replace.
        locked = list(
            ValueRun.objects.select_for_update()
            .filter(Q(pk=run_id) | Q(status=ValueRun.Status.RUNNING))
            .order_by("id")
        )
        run = next(r for r in locked if r.pk == run_id)
        if ValueRun.objects.filter(status=ValueRun.Status.DONE, pk__gt=run_id).exists():
            # A newer run finished first: its figures stay, this run's are dropped.
            rows = []
            message = " ".join([message, "Superseded by a newer run; its figures are shown."])
            PersonValue.objects.filter(run_id=run_id).delete()
        else:
            PersonValue.objects.exclude(run_id=run_id).delete()
            PersonValue.objects.filter(run_id=run_id).delete()
        for row in rows:
            row.run = run
        PersonValue.objects.bulk_create(rows, batch_size=2000)
        run.status = ValueRun.Status.DONE
        run.in_flight = None
        run.percent = 100
        run.stage = "Done"
        run.params = _finite(params)
        run.validation = _finite(validation)
        run.thresholds = thresholds
        run.customer_count = customers
        run.scored_count = len(rows)
        run.excluded_count = excluded
        run.message = message
        run.finished_at = timezone.now()
        run.save()
        audit.record(
            actor=run.requested_by,
            action="insights.value.computed",
            obj=run,
            changes={"customers": customers, "scored": len(rows)},
        )
        events.emit("value_run.completed", obj=run, data={"scored": len(rows)})
    return run


def _finite(data):
    """``data`` with every NaN or infinite float replaced by None (JSON has neither)."""
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_finite(v) for v in data]
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


# ---------------------------------------------------------------- referrals


def record_referral(
    *,
    actor,
    referrer: Party,
    referred: Party,
    occurred_on: dt.date | None = None,
    deal=None,
    code: str = "",
    would_have_come: bool | None = None,
    incentive: Decimal | float | int = 0,
) -> Referral:
    """Record that ``referrer`` brought ``referred`` (one referrer per person: 409 after)."""
    errors = []
    if referrer.kind != Party.Kind.PERSON:
        errors.append(FieldError("referrer", "A referrer is a person."))
    if referred.kind != Party.Kind.PERSON:
        errors.append(FieldError("referred", "Only a person can be referred."))
    if referrer.pk == referred.pk:
        errors.append(FieldError("referred", "A person cannot refer themselves."))
    code = (code or "").strip()
    if len(code) > 40:
        errors.append(FieldError("code", "At most 40 characters."))
    try:
        amount = Decimal(str(incentive)).quantize(Decimal("0.01"))
    except ArithmeticError:
        amount = Decimal(-1)
    if not (Decimal(0) <= amount < Decimal("10000000000")):
        errors.append(FieldError("incentive", "A positive amount (or 0)."))
    today = timezone.localdate()
    if occurred_on and occurred_on > today:
        errors.append(FieldError("occurred_on", "Not in the future."))
    if errors:
        raise ValidationFailed(errors=errors)
    source = (
        Referral.Source.DEAL if deal else Referral.Source.CODE if code else Referral.Source.MANUAL
    )
    try:
        with transaction.atomic():
            ref = Referral.objects.create(
                referrer=referrer,
                referred=referred,
                deal=deal,
                code=code,
                source=source,
                occurred_on=occurred_on or today,
                would_have_come=would_have_come,
                incentive=amount,
                recorded_by=actor if getattr(actor, "pk", None) else None,
            )
            audit.record(
                actor=actor,
                action="insights.referral.recorded",
                obj=ref,
                party_id=referred.pk,
                changes={"referrer": str(referrer.public_id)},
            )
            events.emit("referral.recorded", obj=ref, actor=actor)
    except IntegrityError:
        raise Conflict(f"{referred.display_name} already has a referrer.") from None
    return ref


def delete_referral(*, actor, referral: Referral) -> None:
    """Remove a referral (a mistake); the next run no longer counts it."""
    with transaction.atomic():
        locked = Referral.objects.select_for_update().filter(pk=referral.pk).first()
        if locked is None:
            raise NotFound("No such referral.")
        audit.record(
            actor=actor,
            action="insights.referral.deleted",
            obj=locked,
            party_id=locked.referred_id,
        )
        locked.delete()
