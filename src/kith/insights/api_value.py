"""HTTP API for customer value (thin): CLV / CRV runs, segments, a person's value, referrals.

Staff only (a customer's token or session answers 404 before input is read); starting
a computation is for managers and admins; recording a referral needs write access to
both people.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from kith.accounts.auth import staff_api_auth
from kith.core.errors import NotFound
from kith.insights import access, queries_value, referrals, value
from kith.insights.models_value import Referral
from kith.people import access as people_access

router = Router(tags=["insights"], auth=staff_api_auth)

SegmentName = Literal["champion", "affluent", "advocate", "miser"]


class ValueRunOut(Schema):
    id: uuid.UUID
    status: str
    percent: int
    stage: str
    discount_rate: float
    horizon_months: int
    margin: float
    holdout_days: int
    anyway_share: float
    acquisition_cost: float
    currency: str
    params: dict[str, float]
    validation: dict
    thresholds: dict[str, float]
    customer_count: int
    scored_count: int
    excluded_count: int
    message: str
    created_at: dt.datetime
    finished_at: dt.datetime | None


class ValueRunIn(Schema):
    discount_rate: float = Field(0.10, ge=0, le=1, description="Yearly discount rate.")
    horizon_months: int = Field(12, ge=1, le=120)
    margin: float = Field(0.3, ge=0.01, le=1, description="Share of revenue that is profit.")
    holdout_days: int = Field(90, ge=14, le=730)
    anyway_share: float = Field(
        0.3, ge=0, le=1, description="Share of referred customers who would have come anyway."
    )
    acquisition_cost: float = Field(0.0, ge=0, le=1_000_000)


class SegmentOut(Schema):
    segment: str
    label: str
    people: int
    clv_total: float
    clv_mean: float
    crv_total: float
    crv_mean: float
    p_alive_mean: float | None


class ValueOverviewOut(Schema):
    run: ValueRunOut | None
    segments: list[SegmentOut]


class PersonValueOut(Schema):
    person: uuid.UUID
    name: str
    segment: str
    clv: float
    crv: float
    referred_count: int
    p_alive: float | None
    expected_purchases: float | None
    frequency: int
    recency_weeks: float
    age_weeks: float
    average_spend: float
    total_spend: float
    purchases: int
    community_reputation: int | None = None


class ValuePageOut(Schema):
    run: uuid.UUID | None
    total: int
    items: list[PersonValueOut]


class ReferralOut(Schema):
    id: uuid.UUID
    referrer: uuid.UUID
    referrer_name: str
    referred: uuid.UUID
    referred_name: str
    deal: uuid.UUID | None
    source: str
    code: str
    occurred_on: dt.date
    would_have_come: bool | None
    incentive: Decimal


class PersonValueDetailOut(Schema):
    run: uuid.UUID | None
    value: PersonValueOut | None
    reason: str
    referred_by: ReferralOut | None
    referrals: list[ReferralOut]
    community_reputation: int | None


class ReferralIn(Schema):
    referrer: uuid.UUID | None = Field(
        None, description="The referrer; may be left out when ``code`` is a Kith referral code."
    )
    referred: uuid.UUID | None = Field(None, description="The person referred (or the deal's).")
    deal: uuid.UUID | None = None
    code: str = Field(
        "",
        max_length=40,
        description="Without ``referrer``: a person's referral code (unknown or expired: 422). "
        "With ``referrer``: recorded as given (a code from elsewhere).",
    )
    occurred_on: dt.date | None = None
    would_have_come: bool | None = None
    incentive: Decimal = Field(Decimal(0), ge=0, max_digits=12, decimal_places=2)


class ValueListFilter(Schema):
    order: Literal["clv", "crv", "p_alive", "name"] = "clv"
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


def _run(run) -> ValueRunOut | None:
    if run is None:
        return None
    return ValueRunOut(
        id=run.public_id,
        status=run.status,
        percent=run.percent,
        stage=run.stage,
        discount_rate=run.discount_rate,
        horizon_months=run.horizon_months,
        margin=run.margin,
        holdout_days=run.holdout_days,
        anyway_share=run.anyway_share,
        acquisition_cost=run.acquisition_cost,
        currency=run.currency,
        params=run.params or {},
        validation=run.validation or {},
        thresholds=run.thresholds or {},
        customer_count=run.customer_count,
        scored_count=run.scored_count,
        excluded_count=run.excluded_count,
        message=run.message,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def _value(v, reputation: int | None = None) -> PersonValueOut:
    return PersonValueOut(
        person=v.party.public_id,
        name=v.party.display_name,
        segment=v.segment,
        clv=v.clv,
        crv=v.crv,
        referred_count=v.referred_count,
        p_alive=v.p_alive,
        expected_purchases=v.expected_purchases,
        frequency=v.frequency,
        recency_weeks=v.recency_weeks,
        age_weeks=v.age_weeks,
        average_spend=v.average_spend,
        total_spend=v.total_spend,
        purchases=v.purchases,
        community_reputation=reputation,
    )


def _referral(r: Referral) -> ReferralOut:
    return ReferralOut(
        id=r.public_id,
        referrer=r.referrer.public_id,
        referrer_name=r.referrer.display_name,
        referred=r.referred.public_id,
        referred_name=r.referred.display_name,
        deal=r.deal.public_id if r.deal_id else None,
        source=r.source,
        code=r.code,
        occurred_on=r.occurred_on,
        would_have_come=r.would_have_come,
        incentive=r.incentive,
    )


@router.get("/insights/value", response=ValueOverviewOut, summary="Customer value by segment")
def value_overview(request: HttpRequest):
    """The current run (parameters, fitted parameters, holdout check) and the four segments."""
    access.require_staff(request.user)
    run = queries_value.latest_run()
    return ValueOverviewOut(
        run=_run(run),
        segments=[SegmentOut(**vars(f)) for f in queries_value.segments(request.user, run)],
    )


@router.get(
    "/insights/value/runs/latest", response=ValueRunOut, summary="Latest value run (progress)"
)
def value_latest_job(request: HttpRequest):
    """The most recent computation, whatever its state: poll it for progress."""
    access.require_staff(request.user)
    run = queries_value.current_job()
    if run is None:
        raise NotFound("No customer value computation has been requested yet.")
    return _run(run)


@router.post("/insights/value/runs", response={202: ValueRunOut}, summary="Recompute value")
def value_recompute(request: HttpRequest, body: ValueRunIn):
    """Queue a computation (managers and admins); 409 while one is queued or running."""
    access.require_recompute(request.user)
    run = value.request_value_run(actor=request.user, **body.dict())
    run.refresh_from_db()
    return Status(202, _run(run))


@router.get(
    "/insights/value/segments/{segment}", response=ValuePageOut, summary="People in a segment"
)
def value_segment(request: HttpRequest, segment: SegmentName, filters: Query[ValueListFilter]):
    """The people of one segment, best first (with their community reputation)."""
    access.require_staff(request.user)
    run = queries_value.latest_run()
    if run is None:
        return ValuePageOut(run=None, total=0, items=[])
    rows, total = queries_value.people(
        request.user,
        run,
        segment=segment,
        order=filters.order,
        limit=filters.limit,
        offset=filters.offset,
    )
    reps = queries_value.reputations(v.party_id for v in rows)
    return ValuePageOut(
        run=run.public_id, total=total, items=[_value(v, reps.get(v.party_id)) for v in rows]
    )


@router.get(
    "/insights/value/people/{person_id}",
    response=PersonValueDetailOut,
    summary="A person's customer value",
)
def person_value(request: HttpRequest, person_id: uuid.UUID):
    """CLV, CRV, segment, referrals and community reputation; ``value`` is null with a
    ``reason`` when the person has no figures (no purchases, no consent, no run yet)."""
    access.require_staff(request.user)
    party = people_access.get_party(request.user, person_id, kind="person")
    run = queries_value.latest_run()
    figures = queries_value.value_of(party)
    by, made = queries_value.referrals_of(request.user, party)
    reputation = queries_value.reputation_of(party)
    if figures is not None:
        reason = ""
    elif run is None:
        reason = "Customer value has not been computed yet."
    else:
        reason = (
            "No figures: no purchases before the last computation and no referred "
            "customers, or no consent for profiling."
        )
    return PersonValueDetailOut(
        run=run.public_id if run else None,
        value=_value(figures, reputation) if figures else None,
        reason=reason,
        referred_by=_referral(by) if by else None,
        referrals=[_referral(r) for r in made],
        community_reputation=reputation,
    )


@router.post("/insights/referrals", response={201: ReferralOut}, summary="Record a referral")
def create_referral(request: HttpRequest, body: ReferralIn):
    """Record who referred whom (by person, or by a deal: its person is the one referred)."""
    people_access.require_writer(request.user)
    deal = None
    if body.deal is not None:
        from kith.sales import access as sales_access

        deal = sales_access.get_deal(request.user, body.deal)
    if body.referred is not None:
        referred = people_access.get_party_for_change(request.user, body.referred, kind="person")
    elif deal is not None and deal.person_id:
        referred = people_access.get_party_for_change(
            request.user, deal.person.public_id, kind="person"
        )
    else:
        from kith.core.errors import ValidationFailed

        raise ValidationFailed.single("referred", "Name the person referred, or a deal with one.")
    if body.referrer is None:
        if not body.code.strip():
            from kith.core.errors import ValidationFailed

            raise ValidationFailed.single("referrer", "Name the referrer, or give their code.")
        if deal is not None or body.would_have_come is not None or body.incentive:
            from kith.core.errors import ValidationFailed

            raise ValidationFailed.single(
                "code", "A referral by code takes no deal, incentive or would_have_come."
            )
        ref = referrals.refer_by_code(
            actor=request.user, code=body.code, referred=referred, staff_scope=True
        )
        return Status(201, _referral(ref))
    referrer = people_access.get_party(request.user, body.referrer, kind="person")
    ref = value.record_referral(
        actor=request.user,
        referrer=referrer,
        referred=referred,
        deal=deal,
        code=body.code,
        occurred_on=body.occurred_on,
        would_have_come=body.would_have_come,
        incentive=body.incentive,
    )
    return Status(201, _referral(ref))


@router.delete("/insights/referrals/{referral_id}", response={204: None}, summary="Remove")
def delete_referral(request: HttpRequest, referral_id: uuid.UUID):
    """Remove a referral recorded by mistake (write access to the referred person)."""
    people_access.require_writer(request.user)
    ref = (
        Referral.objects.filter(
            public_id=referral_id, referred_id__in=access.visible_party_ids(request.user)
        )
        .select_related("referred")
        .first()
    )
    if ref is None:
        raise NotFound("No such referral.")
    people_access.get_party_for_change(request.user, ref.referred.public_id, kind="person")
    value.delete_referral(actor=request.user, referral=ref)
    return Status(204, None)


class ReferralCodeOut(Schema):
    person: uuid.UUID
    code: str
    link: str
    visits: int
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ReferralCodeExpiryIn(Schema):
    expires_at: dt.datetime | None = Field(
        ..., description="When the code stops working (in the future), or null for never."
    )


def _referral_code_out(request: HttpRequest, party, code) -> ReferralCodeOut:
    return ReferralCodeOut(
        person=party.public_id,
        code=code.code,
        link=request.build_absolute_uri(f"/portal/r/{code.code}/"),
        visits=code.visits,
        expires_at=code.expires_at,
        revoked_at=code.revoked_at,
    )


@router.post(
    "/insights/people/{person_id}/referral-code",
    response=ReferralCodeOut,
    summary="A person's referral code (made on first request)",
)
def person_referral_code(request: HttpRequest, person_id: uuid.UUID):
    """The person's valid referral code and link: made if they have none yet, made anew
    (a different code) when the current one is revoked or expired."""
    party = people_access.get_party_for_change(request.user, person_id, kind="person")
    code = referrals.code_for(actor=request.user, person=party)
    return _referral_code_out(request, party, code)


@router.patch(
    "/insights/people/{person_id}/referral-code",
    response=ReferralCodeOut,
    summary="Set or clear a referral code's expiry",
)
def set_referral_code_expiry(
    request: HttpRequest, person_id: uuid.UUID, body: ReferralCodeExpiryIn
):
    """Give the person's code an expiry (a past moment: 422 on ``expires_at``) or none
    (null). No code: 404; a revoked code: 409."""
    party = people_access.get_party_for_change(request.user, person_id, kind="person")
    code = referrals.set_code_expiry(actor=request.user, person=party, expires_at=body.expires_at)
    return _referral_code_out(request, party, code)


@router.delete(
    "/insights/people/{person_id}/referral-code",
    response={204: None},
    summary="Revoke a person's referral code",
)
def revoke_referral_code(request: HttpRequest, person_id: uuid.UUID):
    """Revoke the person's code: its link and code are refused from now on. No code:
    404; already revoked: 409. Asking for a code again (POST) makes a new one."""
    party = people_access.get_party_for_change(request.user, person_id, kind="person")
    referrals.revoke_code(actor=request.user, person=party)
    return Status(204, None)
