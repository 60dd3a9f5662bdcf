"""Fixtures for the service desk: a 9–17 calendar, SLA policies, a queue with bob and dan."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.service import services
from kith.service.models import Queue
from tests.conftest import make_org, make_person

UTC = dt.UTC
WEEKDAYS_9_17 = {str(d): [["09:00", "17:00"]] for d in range(5)}
# A Monday, 10:00 UTC (the calendar is in UTC so the arithmetic in tests is easy to read).
MONDAY_10 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def tmp_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def calendar(alice):
    return services.create_calendar(
        actor=alice, name="Office", timezone="UTC", weekly_hours=WEEKDAYS_9_17, holidays=[]
    )


@pytest.fixture
def policies(alice, calendar):
    """Normal: 1 h first response, 8 h resolution; urgent: 30 min / 4 h; business hours."""
    return {
        "normal": services.create_sla_policy(
            actor=alice,
            name="Normal",
            priority="normal",
            first_response_minutes=60,
            resolution_minutes=8 * 60,
            calendar=calendar,
        ),
        "urgent": services.create_sla_policy(
            actor=alice,
            name="Urgent",
            priority="urgent",
            first_response_minutes=30,
            resolution_minutes=4 * 60,
            calendar=calendar,
        ),
    }


@pytest.fixture
def queue(alice, bob, dan):
    return services.create_queue(
        actor=alice, name="Support", agents=[bob, dan], email_address="support@example.com"
    )


@pytest.fixture
def other_queue(alice):
    return services.create_queue(actor=alice, name="Billing")


@pytest.fixture
def ana(alice):
    return make_person(alice, given="Ana", family="Lima", email="ana@example.com")


@pytest.fixture
def acme(alice):
    return make_org(alice, "Acme Ltd")


@pytest.fixture
def new_case(alice, ana, queue, policies):
    def factory(
        *,
        at=MONDAY_10,
        priority="normal",
        queue=queue,
        assignee=None,
        subject="Printer is on fire",
        **kw,
    ):
        return services.create_case(
            actor=alice,
            data=services.CaseInput(
                subject=subject,
                requester=kw.pop("requester", ana),
                priority=priority,
                queue=queue,
                assignee=assignee,
                **kw,
            ),
            at=at,
        )

    return factory


@pytest.fixture
def round_robin_queue(alice, bob, dan):
    return services.create_queue(
        actor=alice, name="RR", agents=[bob, dan], assignment_rule=Queue.Rule.ROUND_ROBIN
    )
