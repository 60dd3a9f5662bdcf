"""The trash: each kind deleted and restored with every row its delete took along, equal
to before (compared field by field through a fresh snapshot); conflicts refused with
nothing half-written; expiry; the purge job; the timeline/feed notes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.collab.models import Post
from kith.core import trash
from kith.core.errors import Conflict, Gone, NotFound
from kith.core.models import AuditEntry, OutboxEvent, TrashItem
from kith.interactions import services as interaction_services
from kith.interactions.models import Interaction
from kith.people import search
from kith.people import services as people_services
from kith.people.models import ContactPoint, Party, Relationship
from kith.people.services import ContactInput
from kith.sales import services as sales_services
from kith.sales.models import Deal, ForecastCell, Pipeline, StageChange
from kith.service import services as service_services
from kith.service.models import Case, CaseMessage
from kith.work import services as work_services
from kith.work.models import Activity, ActivityType, Meeting, MeetingAttendee
from tests.conftest import make_org, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(alice):
    return make_org(alice, "Acme Ltd")


@pytest.fixture
def ana(alice, acme):
    person = make_person(
        alice, given="Ana", family="Lima", email="ana@example.com", phone="+44 20 7946 0958"
    )
    people_services.update_party(
        actor=alice, party=person, data=people_services.PartyInput(tags=["vip"])
    )
    people_services.add_relationship(
        actor=alice, subject=person, role="customer", object=acme, valid_from=dt.date(2022, 1, 1)
    )
    interaction_services.log_interaction(
        actor=alice, party=person, channel="email", summary="Asked about pricing"
    )
    return person


def _rows(obj) -> dict:
    """Every row ``obj``'s delete would take, by model, serialised field by field."""
    snap = trash.snapshot_of(obj)
    return {label: rows for label, rows in snap["rows"]}


_CELL = ("pipeline_id", "forecast_month", "deals", "amount_cents", "weighted_cents")


def _without_notes(rows: dict) -> dict:
    """``rows`` less the timeline notes a restore adds (the delete's and its own)."""
    kept = [
        r
        for r in rows.get("interactions.interaction", [])
        if r["fields"]["kind"] not in ("deleted", "restored")
    ]
    return (
        {**rows, "interactions.interaction": kept}
        if kept
        else {k: v for k, v in rows.items() if k != "interactions.interaction"}
    )


def _restore(actor, item: TrashItem):
    return trash.restore(actor=actor, item=item)


def test_person_with_contacts_roles_tags_and_timeline_comes_back_equal(alice, ana, acme):
    deal = sales_services.create_deal(
        actor=alice, data={"title": "Ana's renewal", "person": ana, "organization": acme}
    )
    before = _rows(ana)
    labels = set(before)
    assert {"people.party", "people.contactpoint", "people.relationship"} <= labels
    assert "interactions.interaction" in labels and "people.party_tags" in labels
    assert len(before["people.contactpoint"]) == 2

    pk, public_id = ana.pk, ana.public_id
    item = people_services.delete_party(actor=alice, party=ana)
    assert not Party.objects.filter(pk=pk).exists()
    assert not ContactPoint.objects.filter(party_id=pk).exists()
    assert Deal.objects.get(pk=deal.pk).person_id is None  # SET_NULL by the delete
    assert item.kind == "person" and item.label == "Ana Lima" and item.deleted_by == alice
    assert item.row_count == sum(len(r) for r in before.values())

    restored = _restore(alice, item)
    assert restored.pk == pk and restored.public_id == public_id
    after = _rows(restored)
    # The notes of the delete and the restore are new interactions; the rest is equal.
    notes = [
        r
        for r in after["interactions.interaction"]
        if r["pk"] not in {b["pk"] for b in before["interactions.interaction"]}
    ]
    assert sorted(n["fields"]["kind"] for n in notes) == ["deleted", "restored"]
    after["interactions.interaction"] = [
        n for n in after["interactions.interaction"] if n not in notes
    ]
    # Audit entries are not rows of the party's delete; the restore adds its own entries.
    assert after == before
    assert Deal.objects.get(pk=deal.pk).person_id == pk  # the cleared reference is back
    assert not TrashItem.objects.filter(pk=item.pk).exists()
    assert [p.pk for p in search.search(Party.objects.all(), "Lima")] == [pk]
    assert AuditEntry.objects.filter(action="person.restored", object_id=pk).exists()
    assert OutboxEvent.objects.filter(name="person.restored", object_id=pk).exists()
    summaries = list(
        Interaction.objects.filter(party_id=pk, kind__in=["deleted", "restored"])
        .order_by("occurred_at")
        .values_list("summary", flat=True)
    )
    assert summaries == ["Deleted by alice", "Restored from the trash"]


def test_organisation_restores_its_roles_both_sides(alice, ana, acme):
    before = _rows(acme)
    assert len(before["people.relationship"]) == 1  # Ana's customer role of Acme
    item = people_services.delete_party(actor=alice, party=acme)
    assert item.kind == "organization"
    assert not Relationship.objects.filter(subject=ana).exists()
    restored = _restore(alice, item)
    assert _without_notes(_rows(restored)) == before
    assert Relationship.objects.filter(subject=ana, object=restored).exists()


def test_deal_with_history_and_forecast(alice, acme):
    pipeline = Pipeline.objects.get(is_default=True)
    stages = list(pipeline.stages.order_by("order"))
    deal = sales_services.create_deal(
        actor=alice,
        data={
            "title": "Big one",
            "organization": acme,
            "amount": "1200.50",
            "expected_close_date": timezone.now().date() + dt.timedelta(days=20),
        },
    )
    sales_services.move_deal(actor=alice, deal=deal, stage=stages[1])
    cells = list(ForecastCell.objects.values(*_CELL))
    before = _rows(deal)
    assert len(before["sales.stagechange"]) >= 2
    pk = deal.pk
    item = sales_services.delete_deal(actor=alice, deal=deal)
    assert not StageChange.objects.filter(deal_id=pk).exists()
    assert list(ForecastCell.objects.values(*_CELL)) != cells
    restored = _restore(alice, item)
    assert _rows(restored) == before
    assert list(ForecastCell.objects.values(*_CELL)) == cells  # the forecast counts it again
    feed = Post.objects.get(target_id=pk, kind=Post.Kind.SYSTEM, body_markdown__contains="restored")
    assert "deleted by alice" in feed.body_markdown


def test_case_with_messages(alice, ana):
    case = service_services.create_case(
        actor=alice, data=service_services.CaseInput(subject="Printer on fire", requester=ana)
    )
    service_services.add_message(actor=alice, case=case, kind="note", body="Looking into it")
    before = _rows(case)
    assert before["service.casemessage"]
    pk = case.pk
    item = service_services.delete_case(actor=alice, case=case)
    assert not CaseMessage.objects.filter(case_id=pk).exists()
    restored = _restore(alice, item)
    assert _rows(restored) == before
    assert Case.objects.get(pk=pk).subject == "Printer on fire"


def test_activity_and_meeting(alice, bob, ana):
    activity = work_services.create_activity(
        actor=alice, type=ActivityType.objects.get(slug="call"), summary="Call Ana", record=ana
    )
    before = _rows(activity)
    pk = activity.pk
    item = work_services.delete_activity(actor=alice, activity=activity)
    assert not Activity.objects.filter(pk=pk).exists()
    assert _rows(_restore(alice, item)) == before

    start = timezone.now().replace(microsecond=0) + dt.timedelta(days=1)
    meeting = work_services.create_meeting(
        actor=alice,
        data=work_services.MeetingInput(
            title="Kick-off",
            start=start.replace(tzinfo=None),
            end=start.replace(tzinfo=None) + dt.timedelta(hours=1),
            parties=[ana],
            users=[bob],
        ),
    )
    before = _rows(meeting)
    assert len(before["work.meetingattendee"]) >= 2
    pk = meeting.pk
    item = work_services.delete_meeting(actor=alice, meeting=meeting)
    assert not MeetingAttendee.objects.filter(meeting_id=pk).exists()
    assert _rows(_restore(alice, item)) == before
    assert Meeting.objects.filter(pk=pk).exists()


def test_contact_point_taken_since_is_a_conflict_with_nothing_written(alice, ana):
    pk = ana.pk
    item = people_services.delete_party(actor=alice, party=ana)
    other = make_person(alice, given="Other", family="Person", email="ana@example.com")
    with pytest.raises(Conflict) as exc:
        _restore(alice, item)
    assert "ana@example.com" in exc.value.message
    assert not Party.objects.filter(pk=pk).exists()
    assert not Relationship.objects.filter(subject_id=pk).exists()
    assert not Interaction.objects.filter(party_id=pk).exists()
    assert TrashItem.objects.filter(pk=item.pk).exists()  # still there to try again
    # Freed again, it restores.
    people_services.remove_contact_point(
        actor=alice, point=ContactPoint.objects.get(party=other, channel="email")
    )
    assert _restore(alice, item).pk == pk


def test_referenced_row_gone_is_a_conflict(alice, acme):
    case = service_services.create_case(
        actor=alice,
        data=service_services.CaseInput(
            subject="Broken", requester=make_person(alice, given="Rui", family="Costa")
        ),
    )
    requester, pk = case.requester, case.pk
    item = service_services.delete_case(actor=alice, case=case)
    people_services.delete_party(actor=alice, party=requester)
    with pytest.raises(Conflict) as exc:
        _restore(alice, item)
    assert "no longer exists" in exc.value.message
    assert not Case.objects.filter(pk=pk).exists()


def test_expired_is_gone_and_purged_by_the_job(alice, ana):
    item = people_services.delete_party(actor=alice, party=ana)
    TrashItem.objects.filter(pk=item.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(Gone):
        _restore(alice, item)
    assert trash.purge_expired() == 1
    with pytest.raises(NotFound):
        _restore(alice, item)


def test_restored_twice_is_not_found(alice, ana):
    item = people_services.delete_party(actor=alice, party=ana)
    _restore(alice, item)
    with pytest.raises(NotFound):
        _restore(alice, item)


def test_retention_is_a_setting(settings, alice, ana):
    settings.KITH_TRASH_DAYS = 2
    item = people_services.delete_party(actor=alice, party=ana)
    assert item.expires_at - item.deleted_at == dt.timedelta(days=2)


def test_with_contact_point_added_before_delete(alice, ana):
    people_services.add_contact_point(
        actor=alice, party=ana, contact=ContactInput("email", "ana.work@example.com")
    )
    item = people_services.delete_party(actor=alice, party=ana)
    restored = _restore(alice, item)
    assert ContactPoint.objects.filter(party=restored).count() == 3
