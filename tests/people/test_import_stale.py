"""A killed import: its heartbeat stops, it is marked stale, and it resumes or restarts.

The kill is simulated: the progress callback raises ``KeyboardInterrupt`` (a
``BaseException``, which the importer does not catch, as it cannot catch ``kill -9``)
after the first chunk, leaving the job ``running``; its heartbeat is then moved into
the past, as if the process had been gone for a while.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from kith.core.errors import Conflict
from kith.core.models import AuditEntry
from kith.people import importing
from kith.people.models import ImportJob, Party

pytestmark = pytest.mark.django_db

ROWS = 7


def _content(rows: int = ROWS) -> str:
    return "Name,Email\n" + "".join(f"Person {i},p{i}@example.com\n" for i in range(rows))


def _killed_job(actor, monkeypatch) -> ImportJob:
    """An import killed after its first chunk of 3 rows, its heartbeat 20 minutes old."""
    monkeypatch.setattr(importing, "CHUNK_SIZE", 3)
    job = importing.create_import_job(
        actor=actor,
        kind="people",
        file_format="csv",
        file_name="people.csv",
        content=_content(),
        mapping=None,
        dry_run=False,
    )

    def die(_job):
        raise KeyboardInterrupt  # the process is gone mid-import

    with pytest.raises(KeyboardInterrupt):
        importing.run_import_job(job.pk, progress=die)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count) == ("running", 3, 3)
    assert job.heartbeat_at is not None
    ImportJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=20),
        updated_at=timezone.now() - timedelta(minutes=20),
    )
    job.refresh_from_db()
    return job


def test_a_fresh_running_job_is_not_stale_and_is_not_taken_over(alice, monkeypatch):
    job = _killed_job(alice, monkeypatch)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    assert importing.mark_stale_jobs() == 0
    # Another process trying to run it leaves it to the one that beats.
    assert importing.run_import_job(job.pk).processed_rows == 3
    assert Party.objects.filter(kind="person").count() == 3


def test_a_killed_import_is_marked_stale_and_resumes_after_its_last_chunk(alice, monkeypatch):
    job = _killed_job(alice, monkeypatch)
    assert job.is_stale()
    assert importing.mark_stale_jobs() == 1
    job.refresh_from_db()
    assert job.status == "stale"
    assert "stopped after 3 of 7 rows" in job.message
    assert importing.mark_stale_jobs() == 0  # marked once

    job = importing.resume_import_job(actor=alice, job=job)
    assert job.status == "queued"
    job = importing.run_import_job(job.pk)
    assert job.status == "done"
    # Rows 1-3 were not read again: the counts carry on from the saved chunk.
    assert (job.processed_rows, job.created_count, job.unchanged_count) == (7, 7, 0)
    assert Party.objects.filter(kind="person").count() == 7
    assert AuditEntry.objects.filter(action="import.resumed", object_id=job.pk).exists()


def test_a_killed_import_restarts_from_the_top_without_duplicates(alice, monkeypatch):
    job = _killed_job(alice, monkeypatch)
    job = importing.restart_import_job(actor=alice, job=job)  # stale by its heartbeat
    assert (job.status, job.processed_rows) == ("queued", 0)
    job = importing.run_import_job(job.pk)
    assert (job.processed_rows, job.created_count, job.unchanged_count) == (7, 4, 3)
    assert Party.objects.filter(kind="person").count() == 7


def test_only_stalled_or_failed_imports_resume(alice, monkeypatch):
    job = _killed_job(alice, monkeypatch)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    job.refresh_from_db()
    with pytest.raises(Conflict):
        importing.resume_import_job(actor=alice, job=job)  # still beating
    ImportJob.objects.filter(pk=job.pk).update(status="done")
    job.refresh_from_db()
    with pytest.raises(Conflict):
        importing.restart_import_job(actor=alice, job=job)


def test_api_shows_stale_and_resumes(alice, bob, vic, api_as, monkeypatch):
    job = _killed_job(alice, monkeypatch)
    api = api_as(alice)
    listed = api.get("/api/imports").json()["items"]
    assert [(j["id"], j["status"]) for j in listed] == [(str(job.public_id), "stale")]
    # Another agent does not see alice's job; a viewer may not write.
    assert api_as(bob).post(f"/api/imports/{job.public_id}/resume").status_code == 404
    assert api_as(vic).post(f"/api/imports/{job.public_id}/resume").status_code == 403
    resumed = api.post(f"/api/imports/{job.public_id}/resume")
    assert resumed.status_code == 202, resumed.content
    # The test task backend runs the task at once.
    after = api.get(f"/api/imports/{job.public_id}").json()
    assert (after["status"], after["processed_rows"], after["created"]) == ("done", 7, 7)
    again = api.post(f"/api/imports/{job.public_id}/restart")
    assert again.status_code == 409 and again.json()["code"] == "conflict"


def test_cli_lists_stale_jobs_and_resumes_one(alice, monkeypatch):
    job = _killed_job(alice, monkeypatch)
    out = StringIO()
    call_command("import_people", "--jobs", stdout=out)
    assert f"{job.public_id}  stale" in out.getvalue()
    out = StringIO()
    call_command("import_people", "--resume", str(job.public_id), "--no-progress", stdout=out)
    assert "Resumed after row 3 of 7" in out.getvalue()
    assert "Created 7" in out.getvalue()
    with pytest.raises(CommandError, match="No import"):
        call_command("import_people", "--restart", "not-an-id")
    with pytest.raises(CommandError, match="Only a stalled or failed import"):
        call_command("import_people", "--restart", str(job.public_id))


def test_web_job_page_stops_polling_and_resumes_a_stalled_import(alice, bob, monkeypatch):
    from tests.conftest import client_for

    job = _killed_job(alice, monkeypatch)
    page = client_for(alice).get(f"/import/{job.public_id}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Stalled" in html and "stopped after row 3" in html
    assert 'hx-trigger="every 500ms"' not in html  # no longer polls forever
    assert "Resume after row 3" in html
    # Another agent finds nothing to resume.
    assert client_for(bob).post(f"/import/{job.public_id}/again/").status_code == 404
    resumed = client_for(alice).post(f"/import/{job.public_id}/again/", {"action": "resume"})
    assert resumed.status_code == 302
    job.refresh_from_db()  # the test task backend ran it at once
    assert (job.status, job.processed_rows, job.created_count) == ("done", 7, 7)
    # Done: no second run; the page says why.
    again = client_for(alice).post(
        f"/import/{job.public_id}/again/", {"action": "restart"}, follow=True
    )
    assert "Only a stalled or failed import" in again.content.decode()
    assert Party.objects.filter(kind="person").count() == 7
