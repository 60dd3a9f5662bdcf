"""End to end in a real browser: a customer signs up, reads the verification e-mail from
the sent-mail folder, verifies, opens a case (past a community answer offered first),
and sees the staff's public reply arrive live (in the open case's thread and the
notification badge), but never the internal note."""

from __future__ import annotations

import email
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.community import services as community_services
from kith.service import services
from kith.service.models import Case, Deflection
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(settings, tmp_path, monkeypatch):
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
    topic = community_services.create_topic(
        actor=alice, space=space, title="How do I reset my router?", body="It keeps dropping."
    )
    answer = community_services.reply(
        actor=alice, topic=topic, body="Hold the reset button for ten seconds."
    )
    community_services.accept_answer(actor=alice, answer=answer)
    return {"alice": alice, "mail": tmp_path / "sent-mail"}


def read_link(folder: Path, to: str) -> str:
    """The path of the portal link in the one message sent to ``to``."""
    for path in sorted(folder.glob("*.log")):
        for raw in path.read_text().split("-" * 79):
            if not raw.strip():
                continue
            message = email.message_from_string(raw.strip())
            if message["To"] != to:
                continue
            body = message.get_payload(decode=True).decode()
            return re.search(r"https?://[^/\s]+(/portal/\S+/)", body).group(1)
    raise AssertionError(f"no mail to {to} in {folder}")


def test_customer_signs_up_verifies_opens_a_case_and_sees_the_public_reply(new_page, shop):
    page: Page = new_page(390, 844)  # a phone: the portal is mobile-first
    page.goto("/portal/signup/")
    page.get_by_label("Given name").fill("Nia")
    page.get_by_label("Family name").fill("Novak")
    page.get_by_label("E-mail").fill("nia@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()

    page.goto(read_link(shop["mail"], "nia@example.org"))
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page).to_have_url(re.compile(r"/portal/$"))
    expect(page.get_by_role("heading", name="Hello, Nia")).to_be_visible()

    # Open a case: the deflection step offers the community's answer first.
    page.get_by_role("link", name="Ask for help").click()
    page.get_by_label("What is it about?").fill("Router keeps dropping, how to reset")
    page.get_by_role("button", name="Continue").click()
    suggestion = page.get_by_role("link", name="How do I reset my router?")
    expect(suggestion).to_be_visible()
    suggestion.click()
    expect(page.locator("#suggested-answer")).to_contain_text("Hold the reset button")
    assert Deflection.objects.get().viewed_at is not None
    page.get_by_role("link", name="I still need help").click()
    page.get_by_label("Describe the problem").fill("I held it; it still drops every hour.")
    page.get_by_role("button", name="Submit case").click()
    expect(page.get_by_text("is open. We will answer soon.")).to_be_visible()
    case = Case.objects.get()
    assert Deflection.objects.get().case_id == case.pk  # submitted: not a deflection

    # Staff answer while the case page is open: a public reply, then an internal note.
    thread = page.locator("#thread")
    expect(thread).to_contain_text("I held it; it still drops every hour.")
    badge = page.locator(".p-topbar [data-unread-count]")
    expect(badge).to_be_hidden()
    services.add_message(
        actor=shop["alice"], case=case, kind="reply", body="Please try the new firmware."
    )
    # The page was not reloaded: the reply and the unread badge arrive over the stream.
    expect(thread).to_contain_text("Please try the new firmware.", timeout=5_000)
    expect(badge).to_have_text("1")
    services.add_message(
        actor=shop["alice"], case=case, kind="note", body="INTERNAL: likely a hardware fault"
    )
    page.reload()
    expect(page.locator("#thread")).to_contain_text("Please try the new firmware.")
    expect(page.locator("body")).not_to_contain_text("INTERNAL")
    expect(page.locator("body")).not_to_contain_text("hardware fault")
    page.goto("/portal/")
    expect(page.locator("#notification-list")).to_contain_text("replied on your case")
    # Close the stream while the test database is still there.
    page.context.close()
    time.sleep(1)  # the next heartbeat finds the socket closed and the stream ends
