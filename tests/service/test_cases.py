"""Cases: numbers and tokens, SLA due times, workflow, pausing, breaches, assignment."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.core.errors import ValidationFailed
from kith.core.models import AuditEntry, OutboxEvent
from kith.interactions.models import Interaction
from kith.service import queries, services
from kith.service.models import Case, Queue, SlaBreach, Status
from tests.service.conftest import MONDAY_10, UTC

H = dt.timedelta(hours=1)


def events_named(name):
    return list(OutboxEvent.objects.filter(name=name).order_by("id"))


def test_create_assigns_number_token_and_due_times(new_case):
    case = new_case()
    second = new_case(subject="Another")
    assert second.number == case.number + 1
    assert case.token == f"[#CASE-{case.number}]"
    assert case.status == Status.NEW
    assert case.sla_policy.name == "Normal"
    assert case.first_response_due_at == MONDAY_10 + H
    # 8 business hours from Monday 10:00 → Tuesday 10:00
    assert case.resolution_due_at == dt.datetime(2026, 1, 6, 10, tzinfo=UTC)
    assert case.next_due_at == case.first_response_due_at
    assert events_named("case.created")
    assert AuditEntry.objects.filter(action="case.created", object_id=case.pk).exists()


def test_created_friday_evening_first_response_due_monday(new_case):
    friday_evening = dt.datetime(2026, 1, 9, 18, tzinfo=UTC)
    case = new_case(at=friday_evening, priority="urgent")
    assert case.first_response_due_at == dt.datetime(2026, 1, 12, 9, 30, tzinfo=UTC)


def test_policy_for_organisation_wins(alice, new_case, acme, calendar, policies):
    services.create_sla_policy(
        actor=alice,
        name="Acme gold",
        priority="normal",
        organization=acme,
        first_response_minutes=15,
        resolution_minutes=120,
        calendar=calendar,
    )
    case = new_case(organization=acme)
    assert case.sla_policy.name == "Acme gold"
    assert case.first_response_due_at == MONDAY_10 + dt.timedelta(minutes=15)
    other = new_case()
    assert other.sla_policy.name == "Normal"


def test_duplicate_default_policy_is_refused(alice, calendar, policies):
    with pytest.raises(ValidationFailed) as exc:
        services.create_sla_policy(
            actor=alice,
            name="Again",
            priority="normal",
            first_response_minutes=1,
            resolution_minutes=2,
        )
    assert exc.value.errors[0].field == "priority"


def test_workflow_legal_and_illegal_transitions(alice, new_case):
    case = new_case()
    with pytest.raises(ValidationFailed) as exc:
        services.change_status(actor=alice, case=case, status=Status.CLOSED, at=MONDAY_10 + H)
    assert exc.value.errors[0].field == "status"
    with pytest.raises(ValidationFailed):
        services.change_status(actor=alice, case=case, status="bogus")
    for step in (
        Status.OPEN,
        Status.PENDING_CUSTOMER,
        Status.OPEN,
        Status.RESOLVED,
        Status.CLOSED,
        Status.OPEN,
    ):
        case = services.change_status(actor=alice, case=case, status=step, at=MONDAY_10 + H)
    assert case.status == Status.OPEN
    assert case.resolved_at is None and case.closed_at is None
    names = [e.data["to"] for e in events_named("case.status_changed")]
    assert names == ["open", "pending_customer", "open", "resolved", "closed", "open"]
    assert len(events_named("case.resolved")) == 1
    assert list(case.status_changes.values_list("to_status", flat=True))[-2:] == ["closed", "open"]


def test_pending_customer_pauses_and_shifts_due_by_business_time(alice, new_case):
    case = new_case()  # Monday 10:00; resolution due Tuesday 10:00
    case = services.change_status(actor=alice, case=case, status=Status.OPEN, at=MONDAY_10)
    paused_at = dt.datetime(2026, 1, 5, 15, tzinfo=UTC)  # Monday 15:00
    case = services.change_status(
        actor=alice, case=case, status=Status.PENDING_CUSTOMER, at=paused_at
    )
    # Frozen while pending: time left stays 4 business hours (15:00 Mon → 10:00 Tue = 2h + 1h... )
    clock = {c.target: c for c in queries.clocks(case, now=paused_at + 30 * H)}["resolution"]
    assert clock.paused and clock.state == "paused"
    assert clock.remaining_seconds == 3 * 3600  # Mon 15–17 (2h) + Tue 9–10 (1h)
    # Customer answers Wednesday 11:00: paused business time = Mon 15–17 + Tue 9–17 + Wed 9–11 = 12 h
    resumed = dt.datetime(2026, 1, 7, 11, tzinfo=UTC)
    case = services.change_status(actor=alice, case=case, status=Status.OPEN, at=resumed)
    assert case.paused_seconds == 12 * 3600
    # Tuesday 10:00 + 12 business hours → Wednesday 14:00... then Thursday: Tue 10–17 (7h), Wed 9–14 (5h)
    assert case.resolution_due_at == dt.datetime(2026, 1, 7, 14, tzinfo=UTC)
    clock = {c.target: c for c in queries.clocks(case, now=resumed)}["resolution"]
    assert clock.remaining_seconds == 3 * 3600  # same 3 h left as when it paused


def test_reply_stops_first_response_clock_and_opens(alice, bob, new_case):
    case = new_case()
    message = services.add_message(
        actor=bob,
        case=case,
        kind="reply",
        body="We are on it.",
        at=MONDAY_10 + dt.timedelta(minutes=20),
    )
    case.refresh_from_db()
    assert case.first_responded_at == message.occurred_at
    assert case.status == Status.OPEN
    assert not case.first_response_breached
    assert case.next_due_at == case.resolution_due_at


def test_late_reply_flags_first_response_breach(bob, new_case):
    case = new_case()
    services.add_message(actor=bob, case=case, kind="reply", body="Sorry!", at=MONDAY_10 + 2 * H)
    case.refresh_from_db()
    assert case.first_response_breached and case.breached
    assert SlaBreach.objects.get(case=case).kind == "first_response"
    assert events_named("case.sla_breached")


def test_check_breaches_flags_once_emits_and_notifies(bob, new_case, mailoutbox):
    bob.email = "bob@example.com"
    bob.save()
    case = new_case(assignee=bob)
    waiting = new_case(subject="Waiting")
    services.change_status(actor=bob, case=waiting, status=Status.PENDING_CUSTOMER, at=MONDAY_10)
    found = services.check_breaches(now=MONDAY_10 + 2 * H)
    assert [(b.case_id, b.kind) for b in found] == [(case.pk, "first_response")]
    assert services.check_breaches(now=MONDAY_10 + 2 * H) == []
    case.refresh_from_db()
    assert case.breached and case.first_response_breached and not case.resolution_breached
    assert len(events_named("case.sla_breached")) == 1
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["bob@example.com"]
    assert SlaBreach.objects.get(case=case).notified_at is not None
    # A day later the resolution target breaches too.
    found = services.check_breaches(now=MONDAY_10 + 30 * H)
    assert [b.kind for b in found] == ["resolution"]


def test_resolving_late_records_resolution_breach(alice, new_case):
    case = new_case(priority="urgent")
    case = services.change_status(
        actor=alice, case=case, status=Status.RESOLVED, at=MONDAY_10 + 6 * H
    )
    assert case.resolution_breached
    assert case.next_due_at.year == 9999
    assert events_named("case.resolved")[0].data["breached"] is True


def test_priority_change_recomputes_due(alice, new_case):
    case = new_case()
    case = services.update_case(actor=alice, case=case, changes={"priority": "urgent"})
    assert case.sla_policy.name == "Urgent"
    assert case.first_response_due_at == MONDAY_10 + dt.timedelta(minutes=30)


def test_round_robin_and_least_loaded(alice, bob, dan, new_case, round_robin_queue):
    got = [new_case(queue=round_robin_queue, subject=f"c{i}").assignee for i in range(4)]
    assert got == [bob, dan, bob, dan]
    assert events_named("case.assigned")[0].data["auto"] is True
    ll = services.create_queue(
        actor=alice, name="LL", agents=[bob, dan], assignment_rule=Queue.Rule.LEAST_LOADED
    )
    # bob has 2 open RR cases, dan 2; close one of dan's: dan is now less loaded.
    dans = Case.objects.filter(assignee=dan).first()
    services.change_status(actor=alice, case=dans, status=Status.RESOLVED)
    assert new_case(queue=ll).assignee == dan
    # now equal (2 each): lowest id wins
    assert new_case(queue=ll).assignee == bob


def test_no_auto_assign_without_rule(new_case):
    assert new_case().assignee is None


def test_manual_assign_emits(alice, dan, new_case):
    case = new_case()
    case = services.assign_case(actor=alice, case=case, assignee=dan)
    assert case.assignee == dan
    assert events_named("case.assigned")[-1].data == {
        "assignee": "dan",
        "previous": None,
        "auto": False,
    }


def test_viewer_cannot_be_assignee(alice, vic, new_case):
    with pytest.raises(ValidationFailed):
        services.assign_case(actor=alice, case=new_case(), assignee=vic)


def test_reply_and_note_land_on_timeline_note_internal(bob, ana, new_case):
    case = new_case()
    services.add_message(actor=bob, case=case, kind="note", body="Customer is VIP", at=MONDAY_10)
    services.add_message(actor=bob, case=case, kind="reply", body="Hello Ana", at=MONDAY_10)
    rows = {i.kind: i for i in Interaction.objects.filter(party=ana)}
    assert rows["case_reply"].direction == "out" and "Hello Ana" in rows["case_reply"].summary
    assert rows["case_internal_note"].direction == "internal"
    assert rows["case_reply"].related_id == case.pk


def test_merge_moves_cases(alice, ana, new_case):
    from kith.people import merging
    from tests.conftest import make_person

    case = new_case()
    twin = make_person(alice, given="Ana", family="Lima", email="ana.lima@example.com")
    merging.merge(actor=alice, keep=twin, absorb=ana)
    case.refresh_from_db()
    assert case.requester_id == twin.pk


def test_format_duration_in_business_hours():
    assert queries.format_duration(5400) == "1h 30m"
    assert queries.format_duration(-600) == "10m"
    assert queries.format_duration(130 * 3600 + 60) == "130h"
    assert queries.format_duration(None) == ""
