"""End to end in a real browser: an admin computes customer value on /insights/value/,
sees the four segments and the holdout chart, opens a segment, follows a person to their
page and finds the value panel with their referral; no Content Security Policy violation."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from kith.cmr.models import Purpose
from kith.insights import clv, value
from kith.interactions.models import Transaction
from kith.people.models import Party
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def buyers(alice):
    Purpose.objects.filter(key="profiling").update(default_granted=True)
    drawn = clv.simulate(
        40,
        r=0.8,
        alpha=4.0,
        a=0.5,
        b=4.0,
        p=6.0,
        q=4.0,
        v=15.0,
        weeks=60,
        rng=np.random.default_rng(5),
        stagger_weeks=20,
    )
    people = []
    for i in range(40):
        p = Party.objects.create(
            kind="person",
            given_name=f"Buyer{i:02d}",
            family_name="Shop",
            display_name=f"Buyer{i:02d} Shop",
        )
        people.append(p)
        Transaction.objects.bulk_create(
            [
                Transaction(
                    party=p,
                    kind="order",
                    amount=Decimal(str(round(amount, 2))),
                    currency="EUR",
                    occurred_at=timezone.now() - dt.timedelta(days=60 * 7 - day + 0.5),
                )
                for day, amount in drawn[i]
            ]
        )
    value.record_referral(
        actor=alice, referrer=people[0], referred=people[1], would_have_come=False
    )
    return people


def test_compute_value_then_see_segments_chart_and_the_panel(new_page, buyers):
    page: Page = new_page()
    # The recompute fits the models inside the request (the immediate task backend):
    # seconds, more on a loaded machine.
    page.set_default_timeout(60_000)
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text[:80]) if "Content Security Policy" in m.text else None,
    )
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Log in|Sign in")).click()
    expect(page).not_to_have_url(re.compile(r"/login/"))
    page.goto("/insights/value/")
    expect(page.get_by_text("has not been computed yet")).to_be_visible()
    page.get_by_role("button", name="Recompute").click()
    expect(page.locator("#value-progress")).to_contain_text("40 customers")
    expect(page.get_by_role("link", name="Champions")).to_be_visible()
    holdout = page.locator("section", has=page.get_by_role("heading", name="Holdout check"))
    expect(holdout.locator("svg")).to_be_visible()
    page.get_by_role("link", name="Everyone with figures").click()
    expect(page.get_by_role("heading", name="All scored people")).to_be_visible()
    page.get_by_role("link", name="CRV").click()
    first = page.locator("tbody tr").first
    expect(first).to_contain_text("Buyer00 Shop")
    first.get_by_role("link", name="Buyer00 Shop").click()
    panel = page.locator("#value-panel")
    expect(panel).to_contain_text("Lifetime value (CLV)")
    expect(panel).to_contain_text("from 1 referral")
    expect(panel).to_contain_text("Buyer01 Shop")
    assert violations == []
