"""End to end in a real browser: after the identity model is trained on generated people,
an admin sees a suggested duplicate with its per-field weights, reviews and merges it
(accepted), says "Not the same" to another (rejected), and after a retrain the rejected
pair is still not suggested; no Content Security Policy violation on the way."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from kith.people.identity import service, synthetic
from kith.people.identity.models import MatchSuggestion
from tests.conftest import PASSWORD
from tests.people.test_identity import _insert

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def suggested(alice):
    gen = synthetic.generate(150, dup_rate=0.3, cross_channel=4, lookalikes=4, seed=21)
    _insert(gen.records)
    run = service.request_training(actor=alice)
    run.refresh_from_db()
    assert run.status == "done" and run.suggestion_count >= 2, run.message
    rows = list(MatchSuggestion.objects.filter(status="open").select_related("left", "right"))
    first = rows[0]
    # A second pair sharing no record with the first (the merge changes the first's).
    second = next(
        s for s in rows[1:] if {s.left_id, s.right_id}.isdisjoint({first.left_id, first.right_id})
    )
    return first, second


def _item(page: Page, party):
    """The duplicate-list entry for exactly this record: by its link, since a generated
    cluster may hold several records with the same name."""
    return page.locator(".dup-list li").filter(
        has=page.locator(f'a[href="/people/{party.public_id}/"]')
    )


def _login(page: Page) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Log in|Sign in")).click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_accept_one_suggestion_reject_another_and_the_rejection_survives_a_retrain(
    new_page, suggested, alice
):
    accept, reject = suggested
    page: Page = new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text[:80]) if "Content Security Policy" in m.text else None,
    )
    _login(page)

    # Accept: the suggestion shows why, the merge screen shows the weights, merge.
    page.goto(f"/people/{accept.left.public_id}/")
    item = _item(page, accept.right)
    expect(item).to_contain_text("likely")
    item.get_by_text("Why we think these are the same").click()
    expect(item.locator(".match-weights")).to_be_visible()
    item.get_by_role("link", name="Review merge").click()
    expect(page.get_by_role("heading", name="Why we think these are the same")).to_be_visible()
    page.get_by_role("button", name=re.compile("Merge into")).click()
    expect(page.locator(".message-success")).to_contain_text("Merged")
    assert MatchSuggestion.objects.get(pk=accept.pk).status == "accepted"

    # Reject: "Not the same" on the other pair.
    page.goto(f"/people/{reject.left.public_id}/")
    other = _item(page, reject.right)
    other.get_by_role("button", name="Not the same").click()
    expect(page.locator(".message-success")).to_contain_text("is not the same as")
    expect(_item(page, reject.right)).to_have_count(0)

    # Retrain: the rejection is remembered (a labelled non-match, never suggested again).
    again = service.request_training(actor=alice)
    again.refresh_from_db()
    assert again.status == "done" and again.labelled_non_matches == 1
    page.goto(f"/people/{reject.left.public_id}/")
    expect(page.get_by_role("heading", name=reject.left.display_name)).to_be_visible()
    expect(_item(page, reject.right)).to_have_count(0)
    assert MatchSuggestion.objects.get(pk=reject.pk).status == "rejected"
    assert not violations, violations
