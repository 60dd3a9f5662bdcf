"""Issue 10's "Done means", end to end in one real browser session:

customer A signs up and verifies the e-mail (the link read from the sent-mail folder),
asks a question; customer B answers; A accepts; B's reputation rises by the space's
configured points and B's timeline shows it (staff's view of B); staff move an idea A
voted for to "planned" and A sees the notification arrive live, without a reload.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.community import services as community_services
from kith.community.models import MemberProfile, SpaceReputation
from kith.ideas import services as idea_services
from kith.ideas.models import IdeaVote
from kith.interactions.models import Interaction
from tests.conftest import PASSWORD
from tests.e2e.test_community_flow import _csp_violations, _customer, _login
from tests.e2e.test_portal_flow import read_link

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings.REDIS_URL = ""
    settings.KITH_COLLAB_SSE_MAX_SECONDS = 30
    settings.KITH_COLLAB_SSE_HEARTBEAT_SECONDS = 0.5
    # Mail as in the embedded mode: one file per message in the sent-mail folder.
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "sent-mail"
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN, first_name="Alice"
    )
    space = community_services.create_space(
        actor=alice, name="Help", slug="help", audience="public"
    )
    # Points are data per space: a value other than the default proves the configured one counts.
    space = community_services.update_space_rules(
        actor=alice, space=space, points={"answer_accepted": 25}
    )
    category = idea_services.create_category(actor=alice, name="Reporting")
    idea = idea_services.create_idea(
        actor=alice, title="Export reports to PDF", body="A **PDF** button.", category=category
    )
    return {
        "alice": alice,
        "space": space,
        "idea": idea,
        "ben": _customer("ben", "Ben"),
        "mail": tmp_path / "sent-mail",
    }


def test_sign_up_ask_answer_accept_reputation_timeline_and_a_live_idea_status(new_page, world):
    # Customer A signs up on a phone and verifies the address from the sent mail.
    a: Page = new_page(390, 844)
    violations = _csp_violations(a)
    a.goto("/portal/signup/")
    a.get_by_label("Given name").fill("Nia")
    a.get_by_label("Family name").fill("Novak")
    a.get_by_label("E-mail").fill("nia@example.org")
    a.get_by_label("Password").fill(PASSWORD)
    a.get_by_role("button", name="Sign up").click()
    expect(a.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    a.goto(read_link(world["mail"], "nia@example.org"))
    a.get_by_role("button", name="Confirm and continue").click()
    expect(a).to_have_url(re.compile(r"/portal/$"))
    nia = User.objects.get(email="nia@example.org")
    assert nia.person is not None

    # A asks.
    a.goto("/community/s/help/ask/")
    a.get_by_label("Title").fill("How do I print a deal?")
    a.get_by_label("Details").fill("I need it on paper for a meeting.")
    a.get_by_role("button", name="Post").click()
    expect(a.get_by_role("heading", name="How do I print a deal?")).to_be_visible()
    topic_url = a.url

    # Customer B answers.
    b: Page = new_page(390, 844)
    _login(b, "ben@example.org")
    b.goto(topic_url)
    b.get_by_label("Your answer").fill("Open the deal and use **Print** in its menu.")
    b.get_by_role("button", name="Post your answer").click()
    expect(b.locator(".c-post strong", has_text="Print")).to_be_visible()

    # A accepts; B's reputation rises by the space's configured 25 points.
    a.reload()
    a.get_by_role("button", name="Accept this answer").click()
    expect(a.get_by_text("Accepted answer")).to_be_visible()
    ben = world["ben"]
    assert MemberProfile.objects.get(user=ben).reputation == 25
    assert SpaceReputation.objects.get(user=ben, space=world["space"]).reputation == 25
    b.goto("/community/mine/")
    expect(b.locator("[data-my-reputation]")).to_have_text("25")
    # B's timeline shows it, to staff on B's page.
    staff: Page = new_page()
    staff_violations = _csp_violations(staff)
    staff.goto("/login/")
    staff.get_by_label("Username").fill("alice")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name=re.compile("Log in|Sign in")).click()
    expect(staff).not_to_have_url(re.compile(r"/login/"))
    staff.goto(f"/people/{ben.person.public_id}/")
    expect(staff.locator("#community-panel [data-reputation]")).to_have_text("25")
    expect(
        staff.get_by_text("Answer accepted: How do I print a deal? (+25 reputation)").first
    ).to_be_visible()
    assert Interaction.objects.filter(party=nia.person, kind="community.question").exists()

    # A votes for an idea; staff plan it; A's open portal page gets the notification live.
    a.goto("/ideas/")
    a.get_by_role("link", name="Export reports to PDF").click()
    a.get_by_role("button", name="Vote for this idea").click()
    expect(a.get_by_role("button", name=re.compile("Voted"))).to_be_visible()
    assert IdeaVote.objects.filter(voter=nia).count() == 1
    a.goto("/portal/")
    badge = a.locator(".p-topbar [data-unread-count]")
    expect(badge).to_be_hidden()
    staff.goto("/ideas/board/")
    staff.locator('[data-column="new"]').get_by_role("link", name="Export reports to PDF").click()
    staff.get_by_label("Move to").select_option("planned")
    staff.get_by_label(re.compile("Public note")).fill("Coming in the spring release.")
    staff.get_by_role("button", name="Change status").click()
    expect(staff.locator("[data-status]").first).to_have_text("Planned")
    expect(a.locator("#notification-list")).to_contain_text("is now planned", timeout=5_000)
    expect(badge).to_have_text("1")
    assert violations == [] and staff_violations == []
    # Close the stream while the test database is still there.
    a.context.close()
    time.sleep(1)  # the next heartbeat finds the socket closed and the stream ends
