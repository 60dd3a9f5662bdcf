"""Deal rules: defaults, moves with history, lost reasons, line items, the customer's timeline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kith.core.errors import Conflict, ValidationFailed
from kith.core.models import AuditEntry, OutboxEvent
from kith.interactions.models import Interaction
from kith.sales import services
from kith.sales.models import Deal, ForecastCategory, StageChange


def test_default_pipeline_is_seeded_with_ordered_stages(pipeline):
    stages = list(pipeline.stages.order_by("order"))
    assert [(s.name, s.probability, s.is_won, s.is_lost) for s in stages] == [
        ("Lead", 10, False, False),
        ("Qualified", 25, False, False),
        ("Proposal", 50, False, False),
        ("Negotiation", 75, False, False),
        ("Won", 100, True, False),
        ("Lost", 0, False, True),
    ]


def test_create_deal_defaults(make_deal, alice, stages, settings):
    settings.KITH_BASE_CURRENCY = "GBP"
    deal = make_deal(amount="1000", expected_close_date=dt.date(2026, 3, 14))
    assert deal.stage == stages["Lead"]
    assert deal.probability == 10
    assert deal.owner == alice
    assert deal.currency == "GBP"
    assert deal.forecast_category == ForecastCategory.PIPELINE
    assert deal.forecast_month == 202603
    assert StageChange.objects.filter(deal=deal, from_stage=None, to_stage=stages["Lead"]).exists()
    assert AuditEntry.objects.filter(action="deal.created", object_id=deal.pk).exists()
    assert OutboxEvent.objects.filter(name="deal.created", object_id=deal.pk).exists()


def test_create_deal_needs_title_and_a_party(alice):
    with pytest.raises(ValidationFailed) as exc:
        services.create_deal(actor=alice, data={"title": " "})
    fields = {e.field for e in exc.value.errors}
    assert "title" in fields
    with pytest.raises(ValidationFailed) as exc:
        services.create_deal(actor=alice, data={"title": "Nobody"})
    assert {e.field for e in exc.value.errors} == {"organization"}


def test_create_deal_rejects_bad_money_and_person_as_org(alice, ana):
    with pytest.raises(ValidationFailed) as exc:
        services.create_deal(
            actor=alice,
            data={"title": "x", "organization": ana, "amount": "1.234", "currency": "EURO"},
        )
    assert {e.field for e in exc.value.errors} == {"organization", "amount", "currency"}


def test_move_records_history_probability_and_event(make_deal, stages, bob, alice):
    deal = make_deal()
    deal.stage_entered_at = timezone.now() - dt.timedelta(days=3)
    deal.save()
    services.move_deal(actor=alice, deal=deal, stage=stages["Proposal"])
    deal.refresh_from_db()
    assert deal.stage == stages["Proposal"] and deal.probability == 50
    change = StageChange.objects.get(deal=deal, from_stage=stages["Lead"])
    assert change.to_stage == stages["Proposal"]
    assert change.changed_by == alice
    assert 3 * 86400 - 5 <= change.seconds_in_from_stage <= 3 * 86400 + 5
    event = OutboxEvent.objects.get(name="deal.stage_changed", object_id=deal.pk)
    assert event.data["from_name"] == "Lead" and event.data["to_name"] == "Proposal"


def test_move_with_overridden_probability(make_deal, stages, alice):
    deal = services.move_deal(
        actor=alice, deal=make_deal(), stage=stages["Qualified"], probability=40
    )
    assert deal.probability == 40


def test_losing_needs_a_reason_and_closes_the_deal(make_deal, stages, alice):
    deal = make_deal(forecast_category="commit")
    with pytest.raises(ValidationFailed) as exc:
        services.move_deal(actor=alice, deal=deal, stage=stages["Lost"])
    assert exc.value.errors[0].field == "lost_reason"
    deal.refresh_from_db()
    assert deal.stage == stages["Lead"]
    services.move_deal(actor=alice, deal=deal, stage=stages["Lost"], lost_reason="Price")
    deal.refresh_from_db()
    assert deal.forecast_category == ForecastCategory.CLOSED
    assert deal.closed_on == timezone.localdate()
    assert deal.probability == 0 and deal.lost_reason == "Price"
    # Reopening puts it back in the pipeline category and forgets the close.
    services.move_deal(actor=alice, deal=deal, stage=stages["Negotiation"])
    deal.refresh_from_db()
    assert deal.forecast_category == ForecastCategory.PIPELINE
    assert deal.closed_on is None and deal.lost_reason == ""


def test_closed_category_only_for_closed_deals(make_deal, alice):
    deal = make_deal()
    with pytest.raises(ValidationFailed):
        services.update_deal(actor=alice, deal=deal, data={"forecast_category": "closed"})


def test_winning_logs_on_the_timelines_of_the_people(make_deal, stages, alice, ana):
    from tests.conftest import make_person

    ben = make_person(alice, given="Ben", family="Ode")
    deal = make_deal(person=ana)
    services.add_contact(actor=alice, deal=deal, person=ben, role="Champion")
    services.add_contact(actor=alice, deal=deal, person=ana, role="Buyer")
    services.move_deal(actor=alice, deal=deal, stage=stages["Won"])
    logged = Interaction.objects.filter(kind="deal_won")
    assert sorted(i.party_id for i in logged) == sorted([ana.pk, ben.pk])
    assert all(i.related_id == deal.pk for i in logged)
    # Moving between open stages logs nothing on the timeline.
    other = make_deal(person=ana, title="Second")
    services.move_deal(actor=alice, deal=other, stage=stages["Proposal"])
    assert Interaction.objects.filter(related_id=other.pk).count() == 0


def test_line_items_compute_the_amount(make_deal, alice):
    deal = make_deal(amount="999", currency="EUR")
    product = services.create_product(
        actor=alice, data={"name": "Seat", "sku": "SEAT-1", "unit_price": "120.00"}
    )
    line = services.add_line(actor=alice, deal=deal, product=product, quantity="10", discount="200")
    deal.refresh_from_db()
    assert line.unit_price == Decimal("120.00")
    assert deal.amount == Decimal("1000.00")
    services.add_line(actor=alice, deal=deal, description="Setup", unit_price="250.50")
    deal.refresh_from_db()
    assert deal.amount == Decimal("1250.50")
    services.update_line(actor=alice, line=line, data={"quantity": "5"})
    deal.refresh_from_db()
    assert deal.amount == Decimal("650.50")
    # The amount can no longer be typed in.
    with pytest.raises(ValidationFailed) as exc:
        services.update_deal(actor=alice, deal=deal, data={"amount": "5"})
    assert exc.value.errors[0].field == "amount"
    services.remove_line(actor=alice, line=line)
    deal.refresh_from_db()
    assert deal.amount == Decimal("250.50")


def test_line_validation(make_deal, alice):
    deal = make_deal(currency="EUR")
    usd = services.create_product(
        actor=alice, data={"name": "Box", "sku": "BOX", "unit_price": "10", "currency": "USD"}
    )
    with pytest.raises(ValidationFailed) as exc:
        services.add_line(actor=alice, deal=deal, product=usd)
    assert exc.value.errors[0].field == "unit_price"
    # With an explicit price in the deal's currency it is fine.
    services.add_line(actor=alice, deal=deal, product=usd, unit_price="9.00")
    with pytest.raises(ValidationFailed) as exc:
        services.add_line(
            actor=alice, deal=deal, description="x", unit_price="10", quantity="0", discount="-1"
        )
    assert {e.field for e in exc.value.errors} == {"quantity", "discount"}
    with pytest.raises(ValidationFailed) as exc:
        services.add_line(actor=alice, deal=deal, description="x", unit_price="10", discount="11")
    assert exc.value.errors[0].field == "discount"
    with pytest.raises(Conflict):
        services.delete_product(actor=alice, product=usd)


def test_product_sku_unique(alice):
    services.create_product(actor=alice, data={"name": "A", "sku": "SKU-1", "unit_price": "1"})
    with pytest.raises(ValidationFailed) as exc:
        services.create_product(actor=alice, data={"name": "B", "sku": "sku-1", "unit_price": "1"})
    assert exc.value.errors[0].field == "sku"


def test_pipelines_and_stages(alice, make_deal):
    p = services.create_pipeline(
        actor=alice,
        name="Renewals",
        stages=[
            services.StageInput("Due", 60),
            services.StageInput("Renewed", 100, is_won=True),
            services.StageInput("Churned", 0, is_lost=True),
        ],
    )
    assert [s.name for s in p.stages.order_by("order")] == ["Due", "Renewed", "Churned"]
    stage = services.add_stage(
        actor=alice, pipeline=p, stage=services.StageInput("Contacted", 70), position=2
    )
    assert [s.name for s in p.stages.order_by("order")] == [
        "Due",
        "Contacted",
        "Renewed",
        "Churned",
    ]
    deal = make_deal(stage=stage)
    assert deal.pipeline == p and deal.probability == 70
    with pytest.raises(Conflict):
        services.delete_stage(actor=alice, stage=stage)
    with pytest.raises(Conflict):
        services.delete_pipeline(actor=alice, pipeline=p)
    with pytest.raises(ValidationFailed):
        services.create_pipeline(
            actor=alice, name="Bad", stages=[services.StageInput("Won", 100, is_won=True)]
        )
    with pytest.raises(ValidationFailed):
        services.create_pipeline(actor=alice, name="renewals", stages=[services.StageInput("a")])


def test_moving_to_another_pipeline_moves_the_deal(alice, make_deal):
    other = services.create_pipeline(
        actor=alice, name="Partners", stages=[services.StageInput("Talk", 5)]
    )
    deal = make_deal()
    services.move_deal(actor=alice, deal=deal, stage=other.stages.get())
    deal.refresh_from_db()
    assert deal.pipeline == other


def test_exchange_rates(alice, settings):
    settings.KITH_BASE_CURRENCY = "EUR"
    rate = services.set_exchange_rate(
        actor=alice, currency="usd", rate="0.9", valid_from="2026-01-01"
    )
    assert rate.currency == "USD"
    again = services.set_exchange_rate(
        actor=alice, currency="USD", rate="0.95", valid_from="2026-01-01"
    )
    assert again.pk == rate.pk and again.rate == Decimal("0.95")
    with pytest.raises(ValidationFailed) as exc:
        services.set_exchange_rate(actor=alice, currency="EUR", rate="-1", valid_from="x")
    assert {e.field for e in exc.value.errors} == {"currency", "rate", "valid_from"}


def test_deal_delete(make_deal, alice):
    deal = make_deal()
    services.delete_deal(actor=alice, deal=deal)
    assert not Deal.objects.filter(pk=deal.pk).exists()


def test_merging_people_moves_their_deals_and_folds_contacts(make_deal, alice, ana):
    from kith.people import merging
    from tests.conftest import make_person

    twin = make_person(alice, given="Ana", family="Lima (old)")
    deal = make_deal(person=twin)
    services.add_contact(actor=alice, deal=deal, person=ana, role="")
    services.add_contact(actor=alice, deal=deal, person=twin, role="Champion")
    merging.merge(actor=alice, keep=ana, absorb=twin)
    deal.refresh_from_db()
    assert deal.person_id == ana.pk
    contacts = list(deal.contacts.all())
    assert [(c.person_id, c.role) for c in contacts] == [(ana.pk, "Champion")]
