"""An import of several chunks validates ahead in a child process and lands exactly
what the same import in one process lands."""

from __future__ import annotations

import os

import pytest

from kith.core import ahead
from kith.people import importing
from kith.people.models import ContactPoint, ImportJob, Party

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not ahead.available(), reason="needs Linux fork and 2 cores"),
]

ROWS = [
    "Name,Email,Phone,Birthday,Tags",
    "Ana Lima,ana@example.com,+44 20 7946 0958,1990-02-03,vip",
    "Bo Chen,bo@example.com,,not a date,",
    "Cy Diaz,not-an-email,,,",
    "Ana L,ANA@example.com,,,beta",  # meets row 2: an update, not a new person
    "Di Evans,di@example.com,+1 202 555 0143,,",
    "Ed Fox,ed@example.com,12,,",
    "Flo Grant,flo@example.com,,,",
]


def _job(actor, rows: list[str], mapping: dict[str, str] | None = None) -> ImportJob:
    return importing.create_import_job(
        actor=actor,
        kind="people",
        file_format="csv",
        file_name="people.csv",
        content="\n".join(rows) + "\n",
        mapping=mapping,
        dry_run=False,
    )


def _import(actor) -> ImportJob:
    return importing.run_import_job(_job(actor, ROWS).pk)


def _landed() -> tuple:
    people = sorted(
        Party.objects.filter(kind="person").values_list("display_name", "birthday", "tags__name")
    )
    points = sorted(ContactPoint.objects.values_list("channel", "normalized", "value"))
    return people, points


def _outcome(job: ImportJob) -> tuple:
    return (
        job.status,
        job.processed_rows,
        job.created_count,
        job.updated_count,
        job.unchanged_count,
        job.errors,
    )


@pytest.mark.parametrize("validate_ahead", [True, False])
def test_same_result_with_and_without_a_child(alice, settings, monkeypatch, validate_ahead):
    settings.KITH_IMPORT_VALIDATE_AHEAD = validate_ahead
    monkeypatch.setattr(importing, "CHUNK_SIZE", 2)
    validating = []
    real = importing._validate_chunk

    def recording(validator, raw_rows, **kwargs):
        validating.append(os.getpid())
        return real(validator, raw_rows, **kwargs)

    monkeypatch.setattr(importing, "_validate_chunk", recording)
    job = _import(alice)
    # Rows 3, 4 and 7 are rejected with their reasons; row 5 updates Ana.
    assert _outcome(job)[:5] == ("done", 7, 3, 1, 0)
    assert [(e["row"], e["field"]) for e in job.errors] == [
        (3, "Birthday"),
        (4, "Email"),
        (7, "Phone"),
    ]
    assert _landed()[0] == [
        ("Ana Lima", importing.dt.date(1990, 2, 3), "beta"),
        ("Ana Lima", importing.dt.date(1990, 2, 3), "vip"),
        ("Di Evans", None, None),
        ("Flo Grant", None, None),
    ]
    if validate_ahead:
        # The child's appends are in its own memory: here only chunks it did not do.
        assert validating == []
    else:
        assert validating == [os.getpid()] * 4


def test_a_resumed_import_validates_ahead_from_where_it_stopped(alice, settings, monkeypatch):
    settings.KITH_IMPORT_VALIDATE_AHEAD = True
    monkeypatch.setattr(importing, "CHUNK_SIZE", 2)
    job = _job(alice, ROWS)
    real = importing._run_chunk
    calls = []

    def stop_at_third_chunk(runner, validated, totals, index):
        calls.append(index)
        if len(calls) == 3:
            raise RuntimeError("worker died")
        return real(runner, validated, totals, index)

    monkeypatch.setattr(importing, "_run_chunk", stop_at_third_chunk)
    with pytest.raises(RuntimeError):
        importing.run_import_job(job.pk)
    job.refresh_from_db()
    assert job.processed_rows == 4
    monkeypatch.setattr(importing, "_run_chunk", real)
    importing.resume_import_job(actor=alice, job=job)
    job = importing.run_import_job(job.pk)
    assert _outcome(job)[:5] == ("done", 7, 3, 1, 0)
    assert [e["row"] for e in job.errors] == [3, 4, 7]
    assert sorted(Party.objects.filter(kind="person").values_list("display_name", flat=True)) == [
        "Ana Lima",
        "Di Evans",
        "Flo Grant",
    ]


MIXED = [
    "First,Last,Display,Email,Phone,Handle,Company,External,Postal",
    "Zoë,Ångström,,zoe@example.com;z2@example.com,+44 20 7946 0958,zoe-a,ACME Corp,crm-1,"
    "1 High St London",
    "Bo,Chen,Bobby C.,bo@example.com,+1 202 555 0143,,Globex,,",
    "Cy,Diaz,,cy@example.com,,cyd,acme corp,crm-3,",  # the same company, other case
    "Di,Evans,,,+61 2 9374 4000,,,,2 Low Road Sydney",
    "Ana,Lima,,ana@example.com,,,,,",
    "Ana,Lima,,ANA@example.com,+44 20 7946 0000,,Initech,crm-9,",  # folds into row 6
]


def test_documents_made_ahead_equal_the_ones_made_from_the_stored_records(alice, settings):
    """The child makes each row's search document before matching (``_row_document``);
    for every party the import creates, it must be what the index makes of the stored
    record, or search would miss it until the nightly reindex."""
    from kith.people import search

    settings.KITH_IMPORT_VALIDATE_AHEAD = True
    mapping = {
        "First": "given_name",
        "Last": "family_name",
        "Display": "display_name",
        "Email": "email",
        "Phone": "phone",
        "Handle": "handle:github",
        "Company": "organization",
        "External": "external_id",
        "Postal": "postal",
    }
    job = _job(alice, MIXED, mapping)
    made = []
    real = importing._row_document

    def counting(row):
        made.append(row.number)
        return real(row)

    import unittest.mock

    with (
        unittest.mock.patch.object(importing, "CHUNK_SIZE", 2),
        unittest.mock.patch.object(importing, "_row_document", counting),
    ):
        job = importing.run_import_job(job.pk)
    assert job.errors == []
    assert (job.status, job.created_count, job.updated_count, job.error_count) == (
        "done",
        5,
        1,
        0,
    )
    assert made == []  # made in the child (its list), not here
    stored = dict(Party.objects.filter(kind="person").values_list("pk", "search_text"))
    assert all(stored.values())
    search.reindex(list(stored))
    rebuilt = dict(Party.objects.filter(kind="person").values_list("pk", "search_text"))
    assert stored == rebuilt
