"""A role change sits on the timeline at the date it took effect, not the day it was typed."""

import datetime as dt

import pytest
from django.utils import timezone

from kith.core import events
from kith.interactions.models import Interaction
from kith.people import services
from tests.conftest import make_org, make_person

pytestmark = pytest.mark.django_db


def _role_entries(person):
    events.deliver_pending(limit=100)
    return list(
        Interaction.objects.filter(party=person, source="kith-events").order_by("occurred_at")
    )


def test_a_new_role_is_dated_at_its_start_date(alice):
    ana = make_person(alice)
    acme = make_org(alice)
    services.add_relationship(
        actor=alice,
        subject=ana,
        role="customer",
        object=acme,
        valid_from=dt.date(2021, 3, 15),
    )
    (entry,) = _role_entries(ana)
    assert entry.kind == "relationship_created"
    assert timezone.localdate(entry.occurred_at) == dt.date(2021, 3, 15)
    assert "from 2021-03-15" in entry.summary


def test_an_ended_role_is_dated_at_its_end_date(alice):
    ana = make_person(alice)
    acme = make_org(alice)
    rel = services.add_relationship(
        actor=alice, subject=ana, role="employee", object=acme, valid_from=dt.date(2019, 1, 1)
    )
    services.end_relationship(actor=alice, relationship=rel, on=dt.date(2023, 6, 30))
    started, ended = _role_entries(ana)
    assert timezone.localdate(started.occurred_at) == dt.date(2019, 1, 1)
    assert ended.kind == "relationship_ended"
    assert timezone.localdate(ended.occurred_at) == dt.date(2023, 6, 30)


def test_a_role_without_a_start_date_is_dated_when_entered(alice):
    ana = make_person(alice)
    before = timezone.now()
    services.add_relationship(actor=alice, subject=ana, role="customer")
    (entry,) = _role_entries(ana)
    assert entry.occurred_at >= before - dt.timedelta(seconds=1)


def test_a_role_entered_on_its_start_day_keeps_the_time_of_entry(alice):
    ana = make_person(alice)
    today = timezone.localdate()
    before = timezone.now()
    services.add_relationship(actor=alice, subject=ana, role="customer", valid_from=today)
    (entry,) = _role_entries(ana)
    assert entry.occurred_at >= before - dt.timedelta(seconds=1)


def test_the_person_page_lists_the_role_at_its_date_among_older_entries(alice):
    from kith.interactions import services as interaction_services
    from tests.conftest import party_page

    ana = make_person(alice)
    interaction_services.log_interaction(
        actor=alice,
        party=ana,
        channel="email",
        summary="Welcome mail",
        occurred_at=dt.datetime(2022, 1, 1, 9, tzinfo=dt.UTC),
    )
    services.add_relationship(
        actor=alice, subject=ana, role="customer", valid_from=dt.date(2020, 5, 1)
    )
    _role_entries(ana)
    html = party_page(alice, ana)
    # Newest first: the 2022 mail comes before the 2020 role.
    assert html.index("Welcome mail") < html.index("from 2020-05-01")
