"""End to end, two browsers: Alice posts with an @mention of Bob on a record's feed; Bob's
page, already open, shows the post live (Server-Sent Events) and his unread count rises."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(settings, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings.REDIS_URL = ""
    settings.KITH_COLLAB_SSE_MAX_SECONDS = 30
    settings.KITH_COLLAB_SSE_HEARTBEAT_SECONDS = 0.5
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN, first_name="Alice"
    )
    bob = account_services.create_user(
        actor=None, username="bob", password=PASSWORD, role=Role.AGENT, first_name="Bob"
    )
    ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    return {"alice": alice, "bob": bob, "ana": ana}


def log_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))  # staff land on their dashboard


def test_mention_appears_live_in_the_other_browser(new_page, people):
    feed_url = f"/collab/records/person/{people['ana'].public_id}/"
    bob_page = new_page()
    log_in(bob_page, "bob")
    bob_page.goto(feed_url)
    expect(bob_page.locator("body[data-collab-live='1']")).to_have_count(1)
    badge = bob_page.locator("nav.mainnav [data-collab-unread]")
    expect(badge).to_be_hidden()  # nothing unread yet

    alice_page = new_page()
    log_in(alice_page, "alice")
    alice_page.goto(feed_url)
    alice_page.get_by_label("Write a post").fill("Can you call Ana back, @bob? #callback")
    alice_page.get_by_role("button", name="Post", exact=True).click()
    expect(alice_page.locator(".collab-post").first).to_contain_text("Can you call Ana back")
    posted = time.monotonic()

    # Bob did not reload: the post arrives over the open stream within 2 seconds.
    post = bob_page.locator("[data-collab-posts] .collab-post").first
    expect(post).to_contain_text("Can you call Ana back", timeout=2000)
    expect(badge).to_have_text("1", timeout=2000)
    assert time.monotonic() - posted < 2.5
    expect(post.locator("strong", has_text="@bob")).to_have_count(1)  # a login without a person
    expect(post.get_by_role("link", name="#callback")).to_have_count(1)

    # The notification is there, and reading it clears the badge.
    bob_page.goto("/collab/notifications/")
    expect(bob_page.get_by_text("alice mentioned you")).to_be_visible()
    bob_page.get_by_role("button", name="Mark all read").click()
    expect(bob_page.locator("nav.mainnav [data-collab-unread]")).to_be_hidden()
    # Close the streams while the test database is still there.
    alice_page.context.close()
    bob_page.context.close()
    time.sleep(1)  # the next heartbeat finds the sockets closed and the streams end


def test_a_new_notification_row_arrives_on_the_open_list(new_page, people):
    """The notification list itself updates live (before, only the badge did)."""
    bob_page = new_page()
    log_in(bob_page, "bob")
    bob_page.goto("/collab/notifications/")
    expect(bob_page.locator("body[data-collab-live='1']")).to_have_count(1)
    expect(bob_page.get_by_text("No notifications.")).to_be_visible()

    alice_page = new_page()
    log_in(alice_page, "alice")
    alice_page.goto(f"/collab/records/person/{people['ana'].public_id}/")
    alice_page.get_by_label("Write a post").fill("Please look at this, @bob")
    alice_page.get_by_role("button", name="Post", exact=True).click()

    rows = bob_page.locator("[data-collab-notifications] li.card")
    expect(rows).to_have_count(1, timeout=3000)
    expect(rows.first).to_contain_text("mentioned you")
    expect(rows.first).not_to_contain_text("**")
    alice_page.context.close()
    bob_page.context.close()
    time.sleep(1)
