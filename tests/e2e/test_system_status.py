"""End to end in a real browser: an admin finds the system status from the account menu
and reads the event backlog per lane and a stalled import with how to resume it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.core import events
from kith.people.models import ImportJob
from tests.conftest import PASSWORD
from tests.e2e.test_people_flow import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_reads_the_backlog_and_a_stalled_import(new_page):
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    events.deliver_pending()
    events.emit_batch(
        "person.created",
        object_type="people.party",
        items=[events.BatchItem(i) for i in range(1, 1201)],
    )
    job = ImportJob.objects.create(
        created_by=alice,
        file_name="crm-export.csv",
        content="Name\nA\n",
        content_hash="x",
        status=ImportJob.Status.RUNNING,
        total_rows=100_000,
        processed_rows=37_000,
        heartbeat_at=timezone.now() - timedelta(hours=2),
    )
    page = new_page()
    log_in(page)
    page.get_by_label(re.compile("Account menu")).click()
    page.get_by_role("link", name="System status").click()
    expect(page).to_have_url(re.compile(r"/system/$"))
    expect(page.get_by_role("heading", name="System status")).to_be_visible()
    bulk = page.locator('tr[data-lane="bulk"]')
    expect(bulk.locator("td").nth(0)).to_have_text("1")
    expect(bulk.locator("td").nth(1)).to_have_text("1200")
    expect(page.get_by_role("link", name="crm-export.csv")).to_be_visible()
    expect(page.get_by_text(f"kith import --resume {job.public_id}")).to_be_visible()
