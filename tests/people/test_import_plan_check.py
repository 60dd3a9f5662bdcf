"""An import chunk is planned before its write transaction (so SQLite's one write lock
is held for the writing only) and checked under the lock: a record the plan read and
that changed in between (an edit, a merge, a contact point added) makes the chunk be
planned again, so the import neither overwrites the change nor writes to a stale record.

The change is made between the plan and the write by wrapping ``_Job.prepare``, which
runs exactly there: the same moment another writer could commit in production.
"""

from __future__ import annotations

import pytest

from kith.people import importing, merging, services
from kith.people.models import ContactPoint, Party
from tests.conftest import make_person
from tests.people.test_import_csv import run


@pytest.fixture
def between_plan_and_write(monkeypatch):
    """Run ``change()`` once, after the first chunk's plan and before its write; count
    the plans."""
    state = {"plans": 0, "change": None}
    plan, prepare = importing._Job.plan, importing._Job.prepare

    def counting_plan(self, rows, counts):
        state["plans"] += 1
        return plan(self, rows, counts)

    def prepare_then_change(self, entities):
        prepare(self, entities)
        change, state["change"] = state["change"], None
        if change is not None:
            change()

    monkeypatch.setattr(importing._Job, "plan", counting_plan)
    monkeypatch.setattr(importing._Job, "prepare", prepare_then_change)
    return state


def test_an_unchanged_chunk_is_planned_once(db, alice, between_plan_and_write):
    make_person(given="Ana", family="Silva", email="ana@example.com")
    job = run(alice, b"First name,Last name,Email,Job title\nAna,Silva,ana@example.com,CTO\n")
    assert (job.created_count, job.updated_count) == (0, 1)
    assert between_plan_and_write["plans"] == 1


def test_an_edit_after_the_plan_is_not_overwritten(db, alice, between_plan_and_write):
    ana = make_person(given="Ana", family="Silva", email="ana@example.com")

    def colleague_fills_the_title():
        services.update_party(
            actor=alice,
            party=Party.objects.get(pk=ana.pk),
            data=services.PartyInput(fields={"title": "CEO"}),
        )

    between_plan_and_write["change"] = colleague_fills_the_title
    job = run(alice, b"First name,Last name,Email,Job title\nAna,Silva,ana@example.com,CTO\n")
    ana.refresh_from_db()
    # An import fills empty fields only: planned again, it finds the title taken.
    assert ana.title == "CEO"
    assert between_plan_and_write["plans"] == 2
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 1)


def test_a_merge_after_the_plan_sends_the_row_to_the_survivor(db, alice, between_plan_and_write):
    absorbed = make_person(given="Ana", family="Silva", email="ana@example.com")
    survivor = make_person(given="Ana", family="Silva", email="ana.silva@example.com")

    def colleague_merges():
        merging.merge(
            actor=alice,
            keep=Party.objects.get(pk=survivor.pk),
            absorb=Party.objects.get(pk=absorbed.pk),
        )

    between_plan_and_write["change"] = colleague_merges
    run(alice, b"First name,Last name,Email,Phone\nAna,Silva,ana@example.com,+49 30 1234567\n")
    phones = ContactPoint.objects.filter(channel="phone")
    assert list(phones.values_list("party_id", flat=True)) == [survivor.pk]
    assert between_plan_and_write["plans"] == 2
    assert Party.objects.get(pk=absorbed.pk).status == Party.Status.MERGED


def test_a_contact_point_added_after_the_plan_is_not_added_twice(db, alice, between_plan_and_write):
    ana = make_person(given="Ana", family="Silva", email="ana@example.com")

    def colleague_adds_the_phone():
        services.add_contact_point(
            actor=alice,
            party=Party.objects.get(pk=ana.pk),
            contact=services.ContactInput("phone", "+49 30 1234567"),
        )

    between_plan_and_write["change"] = colleague_adds_the_phone
    job = run(
        alice, b"First name,Last name,Email,Phone\nAna,Silva,ana@example.com,+49 30 1234567\n"
    )
    assert ContactPoint.objects.filter(party=ana, channel="phone").count() == 1
    assert between_plan_and_write["plans"] == 2
    assert job.errors == []


def test_a_contact_point_removed_after_the_plan_is_added_back(db, alice, between_plan_and_write):
    # The plan saw the phone on record and so had nothing to add; only the check of the
    # related rows (the party row itself is unchanged) tells it to look again.
    ana = make_person(given="Ana", family="Silva", email="ana@example.com", phone="+49 30 1234567")

    def colleague_removes_the_phone():
        services.remove_contact_point(
            actor=alice, point=ContactPoint.objects.get(party=ana, channel="phone")
        )

    between_plan_and_write["change"] = colleague_removes_the_phone
    run(alice, b"First name,Last name,Email,Phone\nAna,Silva,ana@example.com,+49 30 1234567\n")
    assert ContactPoint.objects.filter(party=ana, channel="phone").count() == 1
    assert between_plan_and_write["plans"] == 2
