"""Customer value from Kith's records: the worker run, CRV from referrals, segments,
consent, API, pages, idea ranking — and bad input answered with 4xx, never a 500."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.cmr.models import Consent, Purpose
from kith.core.errors import Conflict, ValidationFailed
from kith.insights import clv, queries_value, value
from kith.insights.models_value import PersonValue, Referral, ValueRun
from kith.interactions.models import Transaction
from kith.people.models import Party
from tests.conftest import PASSWORD, client_for, make_person

pytestmark = pytest.mark.django_db

TRUE = {"r": 0.8, "alpha": 4.0, "a": 0.5, "b": 4.0, "p": 6.0, "q": 4.0, "v": 15.0}


def _people(n: int, family: str = "Buyer") -> list[Party]:
    """``n`` people (created directly: the service's search indexing is not under test)."""
    return [
        Party.objects.create(
            kind=Party.Kind.PERSON,
            given_name=f"P{i}",
            family_name=family,
            display_name=f"P{i} {family}",
        )
        for i in range(n)
    ]


def _buy(person: Party, days_ago: float, amount: float, kind: str = "order", currency="EUR"):
    Transaction.objects.create(
        party=person,
        kind=kind,
        amount=Decimal(str(round(amount, 2))),
        currency=currency,
        occurred_at=timezone.now() - dt.timedelta(days=days_ago),
    )


@pytest.fixture
def shop(db):
    """60 customers whose purchases over 60 weeks are drawn from BG/NBD + Gamma-Gamma."""
    people = _people(60)
    drawn = clv.simulate(60, weeks=60, rng=np.random.default_rng(3), stagger_weeks=20, **TRUE)
    rows = []
    for i, person in enumerate(people):
        for day, amount in drawn[i]:
            rows.append(
                Transaction(
                    party=person,
                    kind="order",
                    amount=Decimal(str(round(amount, 2))),
                    currency="EUR",
                    occurred_at=timezone.now() - dt.timedelta(days=60 * 7 - day + 0.5),
                )
            )
    Transaction.objects.bulk_create(rows)
    return people


def _run(actor=None, **params) -> ValueRun:
    run = value.request_value_run(actor=actor, **params)
    run.refresh_from_db()
    return run


def test_a_run_scores_every_buyer_and_checks_itself_on_the_holdout(shop, alice):
    run = _run(alice)
    assert run.status == "done" and run.percent == 100 and run.in_flight is None
    assert run.customer_count == 60 and run.scored_count == 60
    assert set(run.params) >= {"r", "alpha", "a", "b", "p", "q", "v"}
    assert run.validation["buckets"] and run.validation["customers"] > 0
    values = PersonValue.objects.filter(run=run)
    assert values.count() == 60
    for v in values:
        assert 0.0 <= v.p_alive <= 1.0 and v.clv >= 0.0 and v.expected_purchases >= 0.0
        assert v.purchases == v.frequency + 1
    # Someone who buys often and recently is worth more than a one-off buyer of long ago.
    best = values.order_by("-clv").first()
    assert best.frequency >= values.order_by("clv").first().frequency
    # All four segments add up to everyone scored.
    figures = queries_value.segments(alice, run)
    assert sum(f.people for f in figures) == 60


def test_a_person_without_transactions_gets_a_clear_answer(shop, alice, api_as):
    _run(alice)
    nobody = make_person(None, given="No", family="Purchases")
    assert queries_value.value_of(nobody) is None
    body = api_as(alice).get(f"/api/insights/value/people/{nobody.public_id}").json()
    assert body["value"] is None and "No figures" in body["reason"]
    page = client_for(alice).get(f"/people/{nobody.public_id}/")
    # The panel says there are no figures (it stays for writers: "referred by" is set there).
    assert page.status_code == 200
    assert b"No value figures: no purchases yet, or not profiled." in page.content
    assert b"Lifetime value (CLV)" not in page.content


def test_too_little_history_is_a_clear_result_not_a_failure(alice):
    for p in _people(3, "Few"):
        _buy(p, 10, 20)
    run = _run(alice)
    assert run.status == "done" and run.scored_count == 0
    assert "Not enough purchase history" in run.message
    assert "No holdout check" in run.validation["skipped"]


def test_without_consent_for_profiling_no_score(shop, alice):
    Purpose.objects.filter(key="profiling").update(default_granted=False)
    granted = shop[:55]
    for person in granted:
        Consent.objects.create(
            person=person,
            purpose=Purpose.objects.get(key="profiling"),
            channel="any",
            granted=True,
            changed_at=timezone.now(),
            source="portal",
        )
    run = _run(alice)
    scored = set(PersonValue.objects.filter(run=run).values_list("party_id", flat=True))
    assert scored == {p.pk for p in granted}
    assert run.excluded_count == 5


def test_refunds_lower_the_spend_and_foreign_currency_needs_a_rate(shop, alice):
    from kith.sales.models import ExchangeRate

    target = shop[0]
    before = _run(alice)
    spent = PersonValue.objects.get(run=before, party=target).total_spend
    _buy(target, 1, spent / 2, kind="refund")
    _buy(shop[1], 3, 100, currency="XTS")  # no rate: left out, and said so
    after = _run(alice)
    assert PersonValue.objects.get(run=after, party=target).total_spend == pytest.approx(
        spent / 2, rel=0.01
    )
    assert "XTS" in after.message
    # The previous run's figures are gone: one set at a time.
    assert not PersonValue.objects.filter(run=before).exists()
    ExchangeRate.objects.create(currency="XTS", rate=Decimal("2"), valid_from=dt.date(2000, 1, 1))
    third = _run(alice)
    assert "XTS" not in third.message


def test_crv_counts_the_referred_who_would_not_have_come(shop, alice):
    a, b, c, d = shop[:4]
    value.record_referral(actor=alice, referrer=a, referred=b, would_have_come=False)
    value.record_referral(actor=alice, referrer=a, referred=c, incentive=5)  # unknown
    value.record_referral(actor=alice, referrer=d, referred=a, would_have_come=True)
    run = _run(alice, anyway_share=0.25, acquisition_cost=12)
    got = {v.party_id: v for v in PersonValue.objects.filter(run=run)}
    expected_a = got[b.pk].clv + (0.75 * got[c.pk].clv + 0.25 * 12 - 5)
    assert got[a.pk].crv == pytest.approx(expected_a)
    assert got[a.pk].referred_count == 2
    assert got[d.pk].crv == pytest.approx(12.0)  # came anyway: only the saving counts
    # Segments follow the medians stored on the run.
    t = run.thresholds
    for v in got.values():
        assert v.segment == value.segment_of(v.clv, v.crv, t["clv_median"], t["crv_median"])
    assert got[a.pk].segment in ("champion", "advocate")


def test_a_referrer_who_never_bought_still_has_referral_value(shop, alice):
    friend = make_person(None, given="Never", family="Bought")
    value.record_referral(actor=alice, referrer=friend, referred=shop[0], would_have_come=False)
    run = _run(alice)
    row = PersonValue.objects.get(run=run, party=friend)
    assert row.purchases == 0 and row.clv == 0 and row.p_alive is None
    assert row.crv == pytest.approx(PersonValue.objects.get(run=run, party=shop[0]).clv)
    assert row.segment in ("advocate", "miser")


def test_segment_of_is_the_two_by_two():
    assert value.segment_of(10, 10, 5, 5) == "champion"
    assert value.segment_of(10, 1, 5, 5) == "affluent"
    assert value.segment_of(1, 10, 5, 5) == "advocate"
    assert value.segment_of(5, 5, 5, 5) == "miser"  # at the median is not above it


def test_one_run_at_a_time(alice):
    ValueRun.objects.create(status="queued")
    with pytest.raises(Conflict):
        value.request_value_run(actor=alice)
    # A run silent for over an hour lost its worker: it no longer blocks.
    ValueRun.objects.update(updated_at=timezone.now() - dt.timedelta(hours=2))
    run = _run(alice)
    assert run.status == "done"
    assert ValueRun.objects.filter(status="failed").count() == 1


def test_parameters_are_validated(alice):
    with pytest.raises(ValidationFailed) as caught:
        value.request_value_run(actor=alice, discount_rate=2.0, horizon_months=0)
    assert {e.field for e in caught.value.errors} == {"discount_rate", "horizon_months"}
    with pytest.raises(ValidationFailed):
        value.request_value_run(actor=alice, margin=float("nan"))
    assert not ValueRun.objects.exists()


def test_api_runs_segments_and_access(shop, alice, bob, carol, api_as):
    staff = api_as(alice)
    assert staff.get("/api/insights/value").json()["run"] is None
    assert staff.get("/api/insights/value/runs/latest").status_code == 404
    bad = staff.post("/api/insights/value/runs", {"discount_rate": 3, "holdout_days": 1})
    assert bad.status_code == 422
    assert api_as(bob).post("/api/insights/value/runs", {}).status_code == 403
    assert api_as(carol).get("/api/insights/value").status_code == 404
    started = staff.post("/api/insights/value/runs", {"horizon_months": 6})
    assert started.status_code == 202 and started.json()["horizon_months"] == 6
    body = staff.get("/api/insights/value").json()
    assert body["run"]["status"] == "done" and len(body["segments"]) == 4
    assert sum(s["people"] for s in body["segments"]) == 60
    seg = next(s["segment"] for s in body["segments"] if s["people"])
    page = staff.get(f"/api/insights/value/segments/{seg}", limit=5).json()
    assert page["total"] >= len(page["items"]) > 0
    assert staff.get("/api/insights/value/segments/gold").status_code == 422
    assert staff.get("/api/insights/value/segments/miser", limit=0).status_code == 422
    person = staff.get(f"/api/insights/value/people/{shop[0].public_id}").json()
    assert person["value"]["clv"] >= 0 and person["reason"] == ""


def test_referral_api(shop, alice, vic, api_as):
    staff = api_as(alice)
    a, b = shop[:2]
    made = staff.post(
        "/api/insights/referrals",
        {"referrer": str(a.public_id), "referred": str(b.public_id), "code": "ANA10"},
    )
    assert made.status_code == 201 and made.json()["source"] == "code"
    again = staff.post(
        "/api/insights/referrals",
        {"referrer": str(shop[2].public_id), "referred": str(b.public_id)},
    )
    assert again.status_code == 409
    self_ref = staff.post(
        "/api/insights/referrals", {"referrer": str(a.public_id), "referred": str(a.public_id)}
    )
    assert self_ref.status_code == 422
    assert staff.post("/api/insights/referrals", {"referrer": str(a.public_id)}).status_code == 422
    missing = staff.post(
        "/api/insights/referrals",
        {"referrer": "00000000-0000-0000-0000-000000000000", "referred": str(shop[3].public_id)},
    )
    assert missing.status_code == 404
    negative = staff.post(
        "/api/insights/referrals",
        {"referrer": str(a.public_id), "referred": str(shop[3].public_id), "incentive": -1},
    )
    assert negative.status_code == 422
    assert (
        api_as(vic)
        .post(
            "/api/insights/referrals",
            {"referrer": str(a.public_id), "referred": str(shop[4].public_id)},
        )
        .status_code
        == 403
    )
    detail = staff.get(f"/api/insights/value/people/{a.public_id}").json()
    assert [r["referred"] for r in detail["referrals"]] == [str(b.public_id)]
    ref_id = made.json()["id"]
    assert staff.delete(f"/api/insights/referrals/{ref_id}").status_code == 204
    assert not Referral.objects.exists()
    assert staff.delete(f"/api/insights/referrals/{ref_id}").status_code == 404


def test_referral_through_a_deal(shop, alice, api_as):
    from kith.sales.models import Deal, Pipeline

    pipeline = Pipeline.objects.first()
    deal = Deal.objects.create(
        title="Bulk order",
        person=shop[5],
        pipeline=pipeline,
        stage=pipeline.stages.first(),
        currency="EUR",
        stage_entered_at=timezone.now(),
    )
    made = api_as(alice).post(
        "/api/insights/referrals", {"referrer": str(shop[6].public_id), "deal": str(deal.public_id)}
    )
    assert made.status_code == 201, made.content
    assert made.json()["referred"] == str(shop[5].public_id) and made.json()["source"] == "deal"


def test_pages_show_segments_holdout_chart_and_the_person_panel(shop, alice, bob):
    web = client_for(alice)
    assert b"has not been computed yet" in web.get("/insights/value/").content
    assert web.post("/insights/value/recompute/").status_code == 302
    page = web.get("/insights/value/").content.decode()
    assert "Champions" in page and "Holdout check" in page and "<svg" in page
    assert web.get("/insights/value/segments/all/").status_code == 200
    assert web.get("/insights/value/segments/miser/?page=zz&order=bogus").status_code == 200
    assert web.get("/insights/value/segments/gold/").status_code == 404
    assert "Computed" in web.get("/insights/value/progress/").content.decode()
    person = web.get(f"/people/{shop[0].public_id}/").content.decode()
    assert 'id="value-panel"' in person and "Lifetime value (CLV)" in person
    # An agent reads but may not recompute.
    assert client_for(bob).post("/insights/value/recompute/").status_code == 403


def test_ideas_rank_by_the_voters_customer_value(shop, alice):
    from kith.ideas import ranking
    from kith.ideas import services as idea_services

    voters = []
    for i, person in enumerate(shop[:3]):
        voters.append(
            account_services.create_user(
                actor=None,
                username=f"voter{i}",
                password=PASSWORD,
                kind=User.Kind.PORTAL,
                role=Role.VIEWER,
                person=person,
            )
        )
    cat = idea_services.create_category(actor=alice, name="Value")
    rich = idea_services.create_idea(actor=voters[0], title="Rich idea", body="x", category=cat)
    many = idea_services.create_idea(actor=voters[1], title="Many idea", body="y", category=cat)
    run = _run(alice)
    clvs = {v.party_id: v.clv for v in PersonValue.objects.filter(run=run)}
    top = max(shop[:3], key=lambda p: clvs[p.pk])
    others = [u for u in voters if u.person_id != top.pk]
    idea_services.vote(actor=next(u for u in voters if u.person_id == top.pk), idea=rich)
    for u in others:
        idea_services.vote(actor=u, idea=many)
    scores = queries_value.idea_voter_value([rich, many])
    assert scores[rich.pk] == pytest.approx(clvs[top.pk])
    assert scores[many.pk] == pytest.approx(sum(clvs[u.person_id] for u in others))
    assert "clv" in {s.name for s in ranking.scorers(staff=True)}
    assert "clv" not in {s.name for s in ranking.scorers(staff=False)}
    ranked = ranking.rank([rich, many], "clv")
    assert ranked[0] == (rich if scores[rich.pk] > scores[many.pk] else many)


def test_demo_records_referrals_and_computes_value(shop, alice):
    from kith.insights import demo_value

    summary = demo_value.load(seed=1, anchor=timezone.localdate())
    assert "customer value for" in summary
    assert Referral.objects.exists()
    run = queries_value.latest_run()
    assert run is not None and run.scored_count >= 60
    assert PersonValue.objects.filter(run=run, crv__gt=0).exists()
