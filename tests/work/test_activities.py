"""Activities: types as data, derived status, completion on the timeline, chained follow-ups."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from kith.core.errors import Conflict, ValidationFailed
from kith.core.models import AuditEntry, OutboxEvent
from kith.interactions.models import Interaction
from kith.work import queries, services
from kith.work.models import Activity, ActivityType


def test_builtin_types_are_seeded(db):
    assert set(ActivityType.objects.values_list("slug", flat=True)) >= {
        "call",
        "meeting",
        "email",
        "todo",
    }


def test_create_on_person_defaults_party_assignee_and_zone(bob, ana, call_type):
    bob.timezone = "Europe/Lisbon"
    bob.save()
    a = services.create_activity(
        actor=bob,
        type=call_type,
        summary="  Call   back ",
        record=ana,
        deadline=dt.date(2026, 7, 1),
    )
    assert a.party == ana and a.assignee == bob and a.summary == "Call back"
    assert a.record_type == ContentType.objects.get_for_model(ana) and a.record_id == ana.pk
    assert a.timezone == "Europe/Lisbon"
    assert AuditEntry.objects.filter(
        action="activity.created", object_id=a.pk, party_id=ana.pk
    ).exists()
    assert OutboxEvent.objects.filter(name="activity.created", object_id=a.pk).exists()


def test_validation_names_fields(bob, ana, carol, call_type):
    with pytest.raises(ValidationFailed) as exc:
        services.create_activity(
            actor=bob, type=call_type, summary=" ", assignee=carol, deadline_time=dt.time(9)
        )
    fields = {e.field for e in exc.value.errors}
    assert fields == {"summary", "assignee", "deadline"}


def test_status_is_derived_in_the_users_zone(bob, todo_type):
    # 23:30 UTC on 1 July is already 2 July in Tokyo and still 1 July in New York.
    now = dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.UTC)
    a = services.create_activity(
        actor=bob, type=todo_type, summary="Send deck", deadline=dt.date(2026, 7, 1)
    )
    bob.timezone = "Asia/Tokyo"
    assert queries.status_of(a, queries.today_for(bob, now)) == "overdue"
    bob.timezone = "America/New_York"
    assert queries.status_of(a, queries.today_for(bob, now)) == "today"
    assert queries.status_of(a, dt.date(2026, 6, 30)) == "upcoming"
    a.deadline = None
    assert queries.status_of(a, dt.date(2026, 6, 30)) == "upcoming"
    # The same rule as a query.
    a.refresh_from_db()
    qs = Activity.objects.filter(queries.status_filter("overdue", dt.date(2026, 7, 2)))
    assert list(qs) == [a]
    assert not Activity.objects.filter(queries.status_filter("today", dt.date(2026, 7, 2))).exists()


def test_complete_logs_interaction_and_schedules_next(bob, ana, call_type, todo_type):
    a = services.create_activity(actor=bob, type=call_type, summary="Discuss renewal", record=ana)
    done, follow = services.complete_activity(
        actor=bob,
        activity=a,
        outcome="Wants 40 seats",
        next=services.NextActivity(
            type=todo_type, summary="Send quote", deadline=dt.date(2026, 8, 3)
        ),
    )
    assert done.done_at is not None and done.done_by == bob and done.outcome == "Wants 40 seats"
    interaction = Interaction.objects.get(party=ana, kind="activity")
    assert interaction.channel == "call" and interaction.summary == "Call: Discuss renewal"
    assert interaction.body == "Wants 40 seats"
    assert interaction.related_id == a.pk
    assert follow.previous == a and follow.party == ana and follow.record_id == ana.pk
    assert follow.assignee == bob and follow.deadline == dt.date(2026, 8, 3)
    assert OutboxEvent.objects.filter(name="activity.completed", object_id=a.pk).exists()
    with pytest.raises(Conflict):
        services.complete_activity(actor=bob, activity=a)
    assert Interaction.objects.filter(party=ana, kind="activity").count() == 1


def test_bad_follow_up_leaves_activity_open(bob, ana, call_type, todo_type):
    a = services.create_activity(actor=bob, type=call_type, summary="Call", record=ana)
    with pytest.raises(ValidationFailed) as exc:
        services.complete_activity(
            actor=bob, activity=a, next=services.NextActivity(type=todo_type, summary="")
        )
    assert exc.value.errors[0].field == "next.summary"
    a.refresh_from_db()
    assert a.done_at is None
    assert not Interaction.objects.filter(party=ana).exists()


def test_plain_todo_logs_nothing(bob, todo_type):
    a = services.create_activity(actor=bob, type=todo_type, summary="Expenses")
    services.complete_activity(actor=bob, activity=a)
    assert not Interaction.objects.exists()


def test_future_done_at_rejected(bob, todo_type):
    a = services.create_activity(actor=bob, type=todo_type, summary="x")
    with pytest.raises(ValidationFailed):
        services.complete_activity(
            actor=bob, activity=a, done_at=timezone.now() + dt.timedelta(days=1)
        )


def test_custom_type(mia):
    t = services.create_activity_type(
        actor=mia, name="Site visit", channel="meeting", icon="meeting"
    )
    assert t.slug == "site-visit" and not t.builtin
    with pytest.raises(ValidationFailed) as exc:
        services.create_activity_type(actor=mia, name="Site visit", channel="pigeon", icon="nope")
    assert {e.field for e in exc.value.errors} == {"slug", "channel", "icon"}


def test_my_day_buckets(bob, dan, todo_type):
    now = timezone.now()
    today = queries.today_for(bob, now)
    mk = lambda days, **kw: services.create_activity(  # noqa: E731
        actor=bob,
        type=todo_type,
        summary=f"d{days}",
        deadline=today + dt.timedelta(days=days),
        **kw,
    )
    late, due, soon, far = mk(-2), mk(0), mk(3), mk(30)
    mk(0, assignee=dan)
    done = mk(-1)
    services.complete_activity(actor=bob, activity=done)
    day = queries.my_day(bob, now=now)
    assert day.overdue == [late] and day.due_today == [due] and day.upcoming == [soon]
    assert far not in day.upcoming


def test_merge_moves_activities(alice, bob, call_type):
    from kith.people import merging
    from tests.conftest import make_person

    keep = make_person(alice, given="Ana", family="Lima")
    absorb = make_person(alice, given="Ana", family="Lima Dup")
    a = services.create_activity(actor=bob, type=call_type, summary="x", record=absorb)
    merging.merge(actor=alice, keep=keep, absorb=absorb)
    a.refresh_from_db()
    assert a.party_id == keep.pk and a.record_id == keep.pk


def test_assignee_must_be_a_writer_who_sees_the_party(bob, dan, vic, secret_person, ana, call_type):
    with pytest.raises(ValidationFailed) as exc:
        services.create_activity(
            actor=dan, type=call_type, summary="x", record=secret_person, assignee=bob
        )
    assert exc.value.errors[0].field == "assignee" and "cannot see" in exc.value.errors[0].message
    with pytest.raises(ValidationFailed):
        services.create_activity(actor=bob, type=call_type, summary="x", record=ana, assignee=vic)
    a = services.create_activity(actor=dan, type=call_type, summary="x", record=secret_person)
    with pytest.raises(ValidationFailed):
        services.update_activity(actor=dan, activity=a, assignee=bob)
