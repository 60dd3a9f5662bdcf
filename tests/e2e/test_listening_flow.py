"""End to end, real Chromium: a negative mention arrives through the signed webhook while an
agent has the engagement queue open; it appears at the top of the queue without a reload;
the agent converts it into a case; the case and the mention both show on the matched
person's timeline."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.listening import payloads, pipeline, services
from kith.listening.incoming import IncomingMention
from kith.people.models import ContactPoint
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = "Your app has been broken for two days and nobody answers. Cancelling."


@pytest.fixture
def world(settings, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings.REDIS_URL = ""
    settings.KITH_COLLAB_SSE_MAX_SECONDS = 30
    settings.KITH_COLLAB_SSE_HEARTBEAT_SECONDS = 0.5
    settings.KITH_LISTENING_QUEUE_POLL_SECONDS = 0.2

    # Sentiment by a word: the test is about the flow, not the model's judgement.
    def score(texts):
        return [("negative", 0.97) if "broken" in t else ("neutral", 0.6) for t in texts]

    monkeypatch.setattr(pipeline, "score_sentiment", score)
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN, first_name="Alice"
    )
    account_services.create_user(
        actor=None, username="bob", password=PASSWORD, role=Role.AGENT, first_name="Bob"
    )
    ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    ContactPoint.objects.create(
        party=ana, channel="mastodon", value="@ana@m.example", normalized="ana@m.example"
    )
    created = services.create_source(
        actor=alice, data={"kind": "webhook", "name": "Social hub", "first_response_minutes": 30}
    )
    # Something already waiting, so "at the top" means ranked first, not alone.
    services.ingest(
        created.source,
        [
            IncomingMention(
                external_id=f"old-{i}", text=f"Nice update number {i}", channel="mastodon"
            )
            for i in range(3)
        ],
    )
    return {"ana": ana, "source": created.source, "secret": created.webhook_secret}


def log_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def send_webhook(base_url: str, source, secret: str, item: dict) -> int:
    body = json.dumps(item).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        f"{base_url}/api/listening/webhooks/{source.public_id}",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            payloads.TIMESTAMP_HEADER: timestamp,
            payloads.SIGNATURE_HEADER: payloads.sign(secret, timestamp, body),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_negative_mention_arrives_live_and_becomes_a_case_on_the_timeline(
    new_page, world, live_server
):
    page = new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, "bob")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Listening").click()
    expect(page.get_by_role("heading", name="Engagement queue")).to_be_visible()
    expect(page.locator("body[data-listening-live='1']")).to_have_count(1)
    rows = page.locator("#queue-rows tbody tr")
    expect(rows).to_have_count(3)

    status = send_webhook(
        live_server.url,
        world["source"],
        world["secret"],
        {
            "id": "hub-42",
            "text": TEXT,
            "channel": "mastodon",
            "author_handle": "@ana@m.example",
            "author_name": "Ana",
            "author_followers": 1200,
            "url": "https://m.example/@ana/42",
        },
    )
    assert status == 200
    sent = time.monotonic()

    # No reload: the stream tells the page, the page re-reads its rows.
    first = rows.first
    expect(rows).to_have_count(4, timeout=5000)
    expect(first).to_contain_text(TEXT)
    assert time.monotonic() - sent < 5
    expect(first).to_contain_text("Negative")
    expect(first.get_by_role("link", name="Ana Lima")).to_have_attribute(
        "href", f"/people/{world['ana'].public_id}/"
    )

    # The agent takes it, then converts it into a case: the browser lands on the case.
    first.get_by_role("button", name="Assign to me").click()
    expect(first).to_contain_text("Assigned")
    expect(first).to_contain_text(TEXT)
    first.get_by_text("More actions").click()
    first.get_by_role("button", name="Convert to case").click()
    expect(page).to_have_url(re.compile(r"/service/cases/[0-9a-f-]+/$"))
    expect(page.locator("body")).to_contain_text("Your app has been broken")
    case_url = page.url.removeprefix(live_server.url)

    # Back in the queue it is gone from the open list; under "All" it links to the case.
    page.goto("/listening/?status=converted")
    expect(page.locator("#queue-rows .converted-link")).to_have_attribute("href", case_url)

    # The person's page: the mention and the case on the timeline.
    page.goto(f"/people/{world['ana'].public_id}/")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Social hub: Your app has been broken")
    expect(timeline).to_contain_text("Case opened from a mention on Social hub: Ana: Your app")
    expect(page.locator("#listening-panel")).to_contain_text("Converted")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    page.context.close()
    time.sleep(0.6)  # the next heartbeat finds the socket closed and the stream ends
