"""The outbox backlog, reported in the CLI (`kith status`), the API and the admin's page."""

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kith.core import events
from kith.core.models import OutboxEvent
from kith.people.models import ImportJob
from tests.conftest import client_for, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def backlog(alice):
    """A bulk batch of 250 events and one interactive event waiting five minutes."""
    events.deliver_pending()
    events.emit_batch(
        "person.created",  # collab.auto_follow wants it, so it waits for the worker
        object_type="people.party",
        items=[events.BatchItem(i) for i in range(1, 251)],
    )
    make_person(alice, given="Waiting", family="Person")  # interactive, pending
    OutboxEvent.objects.filter(batch_size=0, status="pending").update(
        occurred_at=timezone.now() - timedelta(minutes=5)
    )
    report = events.backlog()
    assert report["lanes"]["interactive"]["pending"] >= 1
    return report


def test_kith_status_prints_the_backlog_per_lane(backlog):
    out = StringIO()
    call_command("status", stdout=out)
    text = out.getvalue()
    assert "bulk         1 pending standing for 250 events" in text
    interactive = next(line for line in text.splitlines() if "interactive" in line)
    age = int(re.search(r"oldest ([\d,]+) s ago", interactive).group(1).replace(",", ""))
    assert 299 <= age <= 400
    out = StringIO()
    call_command("status", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["lanes"]["bulk"] == {
        "pending": 1,
        "events": 250,
        "oldest_at": data["lanes"]["bulk"]["oldest_at"],
        "oldest_age_seconds": data["lanes"]["bulk"]["oldest_age_seconds"],
    }
    assert data["lanes"]["interactive"]["oldest_age_seconds"] >= 299


def test_api_outbox_for_admins_only(backlog, api_as, alice, mia, bob, carol):
    response = api_as(alice).get("/api/system/outbox")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["lanes"]["bulk"]["events"] == 250 and body["lanes"]["bulk"]["pending"] == 1
    assert body["lanes"]["interactive"]["oldest_age_seconds"] >= 299
    assert body["events"] == body["lanes"]["interactive"]["events"] + 250
    assert api_as(mia).get("/api/system/outbox").status_code == 403
    assert api_as(bob).get("/api/system/outbox").status_code == 403
    assert api_as(carol).get("/api/system/outbox").status_code == 404
    assert Client().get("/api/system/outbox").status_code == 401


def test_status_page_shows_backlog_and_stalled_imports(backlog, alice, bob, carol):
    job = ImportJob.objects.create(
        created_by=alice,
        file_name="big.csv",
        content="Name\nA\n",
        content_hash="x",
        status=ImportJob.Status.RUNNING,
        total_rows=100_000,
        processed_rows=42_000,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    page = client_for(alice).get("/system/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<tr data-lane="bulk">' in html
    bulk_row = html.split('<tr data-lane="bulk">', 1)[1].split("</tr>", 1)[0]
    assert "<td>1</td>" in bulk_row and "<td>250</td>" in bulk_row
    assert "big.csv" in html and "stalled" in html
    assert f"kith import --resume {job.public_id}" in html
    # The admin's account menu links to the page; an agent's does not.
    people = reverse("people:list")
    assert 'href="/system/"' in client_for(alice).get(people).content.decode()
    assert 'href="/system/"' not in client_for(bob).get(people).content.decode()
    assert client_for(bob).get("/system/").status_code == 403
    # A customer is sent to the portal (or gets 404), never the page.
    customer = client_for(carol).get("/system/")
    assert customer.status_code in (302, 404) and b"Event backlog" not in customer.content


@pytest.fixture
def queued_tasks(settings):
    """Two import tasks and one e-mail task waiting in the database task queue."""
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": settings.TASK_QUEUES}
    }
    from kith.mail.tasks import deliver_email
    from kith.people.tasks import run_import

    run_import.enqueue(10**9)
    run_import.enqueue(10**9 + 1)
    deliver_email.enqueue(10**9)


def test_tasks_waiting_per_queue_and_the_bulk_worker_are_shown(
    queued_tasks, alice, api_as, monkeypatch
):
    out = StringIO()
    call_command("status", stdout=out)
    text = out.getvalue()
    assert re.search(r"default\s+1\b", text) and re.search(r"bulk\s+2\b", text), text
    out = StringIO()
    call_command("status", "--json", stdout=out)
    assert json.loads(out.getvalue())["tasks"] == {"default": 1, "bulk": 2}

    html = client_for(alice).get("/system/").content.decode()
    assert '<tr data-queue="bulk"><th scope="row">Bulk</th><td>2</td></tr>' in html
    assert "No bulk worker process in this server" in html  # the test server starts none
    assert api_as(alice).get("/api/system/tasks").json() == {
        "queues": {"default": 1, "bulk": 2},
        "bulk_worker": None,
    }

    from kith.core import bulk_worker

    class Started:
        pid, starts = 4242, 3
        _stopping = type("Flag", (), {"is_set": staticmethod(lambda: False)})()

    monkeypatch.setattr(bulk_worker, "_started", Started())
    html = client_for(alice).get("/system/").content.decode()
    assert "process 4242, running (started 3 times)" in html
    assert api_as(alice).get("/api/system/tasks").json()["bulk_worker"] == {
        "pid": 4242,
        "alive": True,
        "starts": 3,
    }
    Started.pid = None
    html = client_for(alice).get("/system/").content.decode()
    assert "<strong>not running</strong>, being started again" in html
    assert api_as(alice).get("/api/system/tasks").json()["bulk_worker"]["alive"] is False


def test_api_tasks_for_admins_only(api_as, alice, mia, bob, carol):
    assert api_as(alice).get("/api/system/tasks").status_code == 200
    assert api_as(mia).get("/api/system/tasks").status_code == 403
    assert api_as(bob).get("/api/system/tasks").status_code == 403
    assert api_as(carol).get("/api/system/tasks").status_code == 404
    assert Client().get("/api/system/tasks").status_code == 401
