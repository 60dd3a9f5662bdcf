"""End to end in a real browser: an admin recomputes the influence graph on /insights/,
sees the most mentioned person lead, follows the link to their page and finds the
influence panel there; no Content Security Policy violation on the way."""

from __future__ import annotations

import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from playwright.sync_api import Page, expect

from kith.cmr.models import Consent, Purpose
from kith.collab.models import Mention, Post
from kith.people.models import Party
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mentions(alice):
    star = make_person(None, given="Stella", family="Star")
    for given in ("Ann", "Ben", "Cat"):
        fan = make_person(None, given=given, family="Fan")
        post = Post.objects.create(
            target_type=ContentType.objects.get_for_model(Party),
            target_id=star.pk,
            author_party=fan,
            body_markdown="@Stella",
            body_html="<p>@Stella</p>",
        )
        Mention.objects.create(post=post, party=star)
    # Everyone here agreed to profiling (the seeded purpose asks for explicit consent).
    profiling = Purpose.objects.filter(key="profiling").first()
    for person in Party.objects.filter(kind="person") if profiling else []:
        Consent.objects.create(
            person=person,
            purpose=profiling,
            channel="any",
            granted=True,
            changed_at=timezone.now(),
            source="portal",
        )
    return star


def test_recompute_then_see_the_influencer_and_their_panel(new_page, mentions):
    page: Page = new_page()
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
    page.goto("/insights/")
    expect(page.get_by_text("has not been computed yet")).to_be_visible()
    page.get_by_role("button", name="Recompute").click()
    expect(page.locator("#influence-progress")).to_contain_text("4 people")
    influencers = page.locator("section", has=page.get_by_role("heading", name="Influencers"))
    first = influencers.locator("tbody tr").first
    expect(first).to_contain_text("Stella Star")
    first.get_by_role("link", name="Stella Star").click()
    panel = page.locator("#influence-panel")
    expect(panel).to_contain_text("rank 1 of 4")
    expect(panel).to_contain_text("Influencers in this community")
    assert violations == []
