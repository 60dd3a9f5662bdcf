"""Demo data for sales: two pipelines, a price list, rates and deals over two years.

Called by ``kith demo`` (``kith.demo.data.load``) after the people are written, inside
the same transaction and on the ``demo`` audit channel. Everything is drawn from a
seeded ``random.Random`` with dates relative to ``anchor``, so the same seed gives the
same deals. Deals, their history, lines, contacts and outcome interactions are bulk
inserted (the row-by-row services would take far longer); the few configuration rows
(pipeline, products, rates) go through the services so they carry their audit entries.

The audit entries on the ``demo`` channel are the ledger ``wipe`` deletes by: one
``deal.created`` per deal, plus those the services wrote.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType

WINDOW_DAYS = 730
DEALS_PER_ORG = 9
MIN_DEALS = 60
INTERACTION_SOURCE = "demo-sales"
RENEWALS = "Renewals"
RENEWAL_STAGES = (
    # name, probability, won, lost
    ("Up for renewal", 60, False, False),
    ("Quote sent", 75, False, False),
    ("Renewed", 100, True, False),
    ("Churned", 0, False, True),
)
PRODUCTS = (
    ("Kith Cloud — Team seat (annual)", "KC-TEAM-Y", "360.00"),
    ("Kith Cloud — Business seat (annual)", "KC-BIZ-Y", "720.00"),
    ("Onboarding workshop (1 day)", "SRV-ONB-1D", "1800.00"),
    ("Data migration package", "SRV-MIG", "4500.00"),
    ("Premium support (annual)", "SUP-PREM-Y", "6000.00"),
    ("Custom integration (per day)", "SRV-INT-D", "1200.00"),
)
# Value of one unit in euros; rates to the base currency are derived from these.
EUR_VALUE = {"EUR": Decimal("1"), "USD": Decimal("0.92"), "GBP": Decimal("1.17")}
CURRENCY_WEIGHTS = (("EUR", 70), ("USD", 20), ("GBP", 10))
DEAL_NAMES = (
    "platform rollout",
    "expansion",
    "pilot",
    "renewal",
    "support upgrade",
    "new team",
    "data migration",
    "integration project",
    "training",
    "enterprise agreement",
)
CONTACT_ROLES = (
    "Decision maker",
    "Champion",
    "Economic buyer",
    "Technical evaluator",
    "User",
    "Procurement",
)
LOST_REASONS = (
    "Price",
    "Went with a competitor",
    "No budget this year",
    "Project cancelled",
    "No decision",
    "Missing feature",
)
NEXT_STEPS = (
    "Send proposal",
    "Schedule demo",
    "Call the CFO",
    "Security review",
    "Agree on pricing",
    "Send contract",
    "",
)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _at(day: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime.combine(
        day, dt.time(rng.randint(8, 17), rng.randint(0, 59), rng.randint(0, 59)), tzinfo=dt.UTC
    )


def _demo_ids(action: str) -> list[int]:
    from kith.core.models import AuditEntry

    return list(
        AuditEntry.objects.filter(channel="demo", action=action).values_list("object_id", flat=True)
    )


def _pipelines(rng: random.Random) -> list[Any]:
    from kith.sales import services
    from kith.sales.models import Pipeline

    main = Pipeline.objects.filter(is_default=True).first() or services.default_pipeline()
    if main is None:
        main = services.create_pipeline(
            actor=None,
            name="Sales",
            is_default=True,
            stages=[
                services.StageInput("Lead", 10),
                services.StageInput("Qualified", 25),
                services.StageInput("Proposal", 50),
                services.StageInput("Negotiation", 75),
                services.StageInput("Won", 100, is_won=True),
                services.StageInput("Lost", 0, is_lost=True),
            ],
        )
    renewals = Pipeline.objects.filter(name__iexact=RENEWALS).first()
    if renewals is None:
        renewals = services.create_pipeline(
            actor=None,
            name=RENEWALS,
            stages=[
                services.StageInput(n, p, is_won=w, is_lost=lo) for n, p, w, lo in RENEWAL_STAGES
            ],
        )
    return [main, renewals]


def _products() -> list[Any]:
    from kith.sales import services
    from kith.sales.models import Product

    out = []
    for name, sku, price in PRODUCTS:
        existing = Product.objects.filter(sku__iexact=sku).first()
        out.append(
            existing
            or services.create_product(
                actor=None, data={"name": name, "sku": sku, "unit_price": price, "currency": "EUR"}
            )
        )
    return out


def _rates(anchor: dt.date) -> list[str]:
    """Rates for the demo currencies into the base currency; returns the currencies usable."""
    from kith.sales import services
    from kith.sales.models import ExchangeRate, base_currency

    base = base_currency()
    if base not in EUR_VALUE:
        return [base]  # no table for this base: every demo deal in the base currency
    start = anchor - dt.timedelta(days=WINDOW_DAYS + 30)
    for code, value in EUR_VALUE.items():
        if code == base:
            continue
        rate = (value / EUR_VALUE[base]).quantize(Decimal("0.00000001"))
        # Two rates: one from the start of the window, a slightly different one since.
        for day, factor in (
            (start, Decimal("1")),
            (anchor - dt.timedelta(days=180), Decimal("1.02")),
        ):
            if not ExchangeRate.objects.filter(currency=code, valid_from=day).exists():
                services.set_exchange_rate(
                    actor=None,
                    currency=code,
                    rate=(rate * factor).quantize(Decimal("0.00000001")),
                    valid_from=day,
                )
    return list(EUR_VALUE)


def load(*, seed: int, anchor: dt.date) -> str:
    """Write the sales demo; returns a one-line summary."""
    from kith.accounts.models import Team, User
    from kith.core.models import AuditEntry
    from kith.interactions.models import Channel, Direction, Interaction
    from kith.people.models import Party, Relationship, Visibility
    from kith.sales.models import (
        Deal,
        DealContact,
        DealLine,
        ForecastCategory,
        StageChange,
    )

    rng = random.Random(f"{seed}-sales")
    party_ids = _demo_ids("organization.created") + _demo_ids("person.created")
    orgs = list(
        Party.objects.filter(pk__in=party_ids, kind=Party.Kind.ORGANIZATION, status="active")
        .order_by("id")
        .values_list("id", "display_name")
    )
    if not orgs:
        return "no deals (no demo organisations)"
    people_of: dict[int, list[int]] = {}
    for subject_id, object_id in (
        Relationship.objects.filter(object_id__in=[o for o, _ in orgs], subject__kind="person")
        .filter(subject__status="active")
        .order_by("id")
        .values_list("subject_id", "object_id")
    ):
        people_of.setdefault(object_id, [])
        if subject_id not in people_of[object_id]:
            people_of[object_id].append(subject_id)
    users = {u.username: u for u in User.objects.filter(username__in=["alice", "mia", "bob"])}
    owners = [users[n] for n in ("bob", "bob", "mia", "alice") if n in users] or [None]
    team = Team.objects.filter(name__iexact="Key Accounts").first()
    pipelines = _pipelines(rng)
    products = _products()
    currencies = _rates(anchor)
    weights = [(c, w) for c, w in CURRENCY_WEIGHTS if c in currencies] or [(currencies[0], 1)]

    stages_of = {p.pk: list(p.stages.order_by("order", "id")) for p in pipelines}
    total = max(MIN_DEALS, DEALS_PER_ORG * len(orgs))
    deals: list[Deal] = []
    histories: list[list[tuple[Any, Any, dt.datetime]]] = []
    plans: list[dict[str, Any]] = []
    # Every stage of every pipeline gets deals: the first ones are pinned to a stage each.
    pinned = [(p, s) for p in pipelines for s in stages_of[p.pk] for _ in range(2)]
    for index in range(total):
        if index < len(pinned):
            pipeline, target = pinned[index]
        else:
            pipeline = pipelines[0] if rng.random() < 0.8 else pipelines[1]
            target = None
        stages = stages_of[pipeline.pk]
        open_stages = [s for s in stages if not s.is_closed]
        won = next(s for s in stages if s.is_won)
        lost = next(s for s in stages if s.is_lost)
        created_day = anchor - dt.timedelta(days=rng.randint(5, WINDOW_DAYS))
        age = (anchor - created_day).days
        if target is None:
            roll = rng.random()
            if age > 120 and roll < 0.5:
                target = won
            elif age > 60 and roll < 0.8:
                target = lost
            else:
                target = rng.choice(open_stages)
        # Walk the stages from the first to the target (a loss stops anywhere).
        if target.is_lost:
            path = [*open_stages[: rng.randint(1, len(open_stages))], target]
        elif target.is_won:
            path = [*open_stages, target]
        else:
            path = open_stages[: open_stages.index(target) + 1]
        when = _at(created_day, rng)
        history = []
        previous = None
        limit = dt.datetime.combine(anchor, dt.time(18), tzinfo=dt.UTC)
        for step, stage in enumerate(path):
            if step:
                when = min(
                    limit, when + dt.timedelta(days=rng.randint(2, 35), hours=rng.randint(0, 9))
                )
            history.append((previous, stage, when))
            previous = stage
        last_at = history[-1][2]
        org_id, org_name = orgs[index % len(orgs)] if index < len(orgs) else rng.choice(orgs)
        members = people_of.get(org_id, [])
        person_id = rng.choice(members) if members and rng.random() < 0.7 else None
        currency = rng.choices([c for c, _ in weights], weights=[w for _, w in weights])[0]
        owner = rng.choice(owners)
        visibility = Visibility.EVERYONE
        deal_team = None
        roll = rng.random()
        if owner is not None and owner.username == "bob" and roll < 0.15:
            visibility = Visibility.PRIVATE
        elif team is not None and roll < 0.3:
            visibility, deal_team = Visibility.TEAM, team
        closed = target.is_closed
        closed_on = last_at.date() if closed else None
        expected = (
            closed_on + dt.timedelta(days=rng.randint(-20, 10))
            if closed
            else anchor + dt.timedelta(days=rng.randint(-15, 240))
        )
        category = ForecastCategory.CLOSED if closed else ForecastCategory.PIPELINE
        if not closed:
            r = rng.random()
            if target.probability >= 75 and r < 0.6:
                category = ForecastCategory.COMMIT
            elif target.probability >= 50 and r < 0.5:
                category = ForecastCategory.BEST_CASE
            elif r < 0.05:
                category = ForecastCategory.OMITTED
        lines = []
        if currency == "EUR" and rng.random() < 0.6:
            for product in rng.sample(products, rng.randint(1, 3)):
                qty = Decimal(rng.choice([1, 1, 2, 5, 10, 25, 50]))
                gross = qty * product.unit_price
                discount = (gross * Decimal(rng.choice([0, 0, 5, 10, 15])) / 100).quantize(
                    Decimal("0.01")
                )
                lines.append((product, qty, discount))
            amount = sum((q * p.unit_price - d for p, q, d in lines), Decimal(0))
        else:
            amount = Decimal(rng.randint(10, 1500) * 100)
        deal = Deal(
            public_id=_uuid(rng),
            title=f"{org_name} {rng.choice(DEAL_NAMES)}"[:200],
            organization_id=org_id,
            person_id=person_id,
            owner=owner,
            team=deal_team,
            visibility=visibility,
            amount=amount.quantize(Decimal("0.01")),
            currency=currency,
            pipeline=pipeline,
            stage=target,
            probability=target.probability,
            forecast_category=category,
            expected_close_date=expected,
            closed_on=closed_on,
            next_step="" if closed else rng.choice(NEXT_STEPS),
            lost_reason=rng.choice(LOST_REASONS) if target.is_lost else "",
            stage_entered_at=last_at,
        )
        deal.refresh_derived()
        deals.append(deal)
        histories.append(history)
        contacts = []
        for pid in rng.sample(members, min(len(members), rng.randint(0, 2))):
            contacts.append((pid, rng.choice(CONTACT_ROLES)))
        plans.append({"lines": lines, "contacts": contacts, "created": history[0][2]})

    Deal.objects.bulk_create(deals, batch_size=500)
    # created_at is auto_now_add: put it back on the day the deal was opened.
    for deal, plan in zip(deals, plans, strict=True):
        deal.created_at = plan["created"]
    Deal.objects.bulk_update(deals, ["created_at"], batch_size=500)

    changes, lines, contacts, interactions, audits = [], [], [], [], []
    deal_type = ContentType.objects.get_for_model(Deal)
    for deal, history, plan in zip(deals, histories, plans, strict=True):
        for i, (previous, stage, when) in enumerate(history):
            seconds = (
                int((when - history[i - 1][2]).total_seconds()) if previous is not None else None
            )
            changes.append(
                StageChange(
                    public_id=_uuid(rng),
                    deal=deal,
                    from_stage=previous,
                    to_stage=stage,
                    changed_by=deal.owner,
                    changed_at=when,
                    seconds_in_from_stage=seconds,
                )
            )
        for position, (product, qty, discount) in enumerate(plan["lines"], start=1):
            lines.append(
                DealLine(
                    public_id=_uuid(rng),
                    deal=deal,
                    product=product,
                    quantity=qty,
                    unit_price=product.unit_price,
                    discount=discount,
                    position=position,
                )
            )
        for pid, role in plan["contacts"]:
            contacts.append(DealContact(public_id=_uuid(rng), deal=deal, person_id=pid, role=role))
        if deal.stage.is_closed:
            outcome = "won" if deal.stage.is_won else "lost"
            people = {pid for pid, _ in plan["contacts"]} | ({deal.person_id} - {None})
            summary = f"Deal {outcome}: {deal.title}"
            if deal.lost_reason:
                summary += f" ({deal.lost_reason})"
            for pid in sorted(people):
                interactions.append(
                    Interaction(
                        public_id=_uuid(rng),
                        party_id=pid,
                        channel=Channel.SYSTEM,
                        direction=Direction.INTERNAL,
                        kind=f"deal_{outcome}",
                        occurred_at=history[-1][2],
                        summary=summary[:300],
                        source=INTERACTION_SOURCE,
                        external_id=f"{deal.public_id}:{pid}",
                        actor=deal.owner,
                        related_type=deal_type,
                        related_id=deal.pk,
                    )
                )
        audits.append(
            AuditEntry(
                occurred_at=plan["created"],
                actor=None,
                actor_label="demo",
                channel="demo",
                action="deal.created",
                object_type=deal_type,
                object_id=deal.pk,
                object_public_id=deal.public_id,
                object_label=deal.title[:300],
                party_id=deal.organization_id,
                changes={},
            )
        )
    StageChange.objects.bulk_create(changes, batch_size=1000)
    DealLine.objects.bulk_create(lines, batch_size=1000)
    DealContact.objects.bulk_create(contacts, batch_size=1000)
    Interaction.objects.bulk_create(interactions, batch_size=1000)
    AuditEntry.objects.bulk_create(audits, batch_size=1000)
    # The deals went in with bulk inserts: sum them into the forecast's running totals.
    from kith.sales.services import rebuild_forecast_cells

    rebuild_forecast_cells()
    won = sum(1 for d in deals if d.stage.is_won)
    lost = sum(1 for d in deals if d.stage.is_lost)
    return (
        f"{len(deals)} deals in {len(pipelines)} pipelines ({won} won, {lost} lost), "
        f"{len(changes)} stage changes, {len(lines)} line items, {len(products)} products"
    )


def wipe() -> None:
    """Delete what ``load`` created (deals, their history, the demo pipeline, products, rates)."""
    from kith.interactions.models import Interaction
    from kith.sales.models import Deal, ExchangeRate, Pipeline, Product

    deal_ids = _demo_ids("deal.created")
    Interaction.objects.filter(source=INTERACTION_SOURCE).delete()
    for start in range(0, len(deal_ids), 500):
        Deal.objects.filter(pk__in=deal_ids[start : start + 500]).delete()
    ExchangeRate.objects.filter(pk__in=_demo_ids("exchange_rate.set")).delete()
    Product.objects.filter(pk__in=_demo_ids("product.created"), lines__isnull=True).delete()
    # A pipeline the demo created goes too, once no deal is left in it.
    for pipeline in Pipeline.objects.filter(pk__in=_demo_ids("pipeline.created")):
        if not pipeline.deals.exists():
            pipeline.delete()
    from kith.sales.services import rebuild_forecast_cells

    rebuild_forecast_cells()
