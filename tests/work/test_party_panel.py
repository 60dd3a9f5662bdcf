"""The activities panel on a person's page: open activities the reader may see."""

import datetime as dt

import pytest

from kith.work import services
from tests.conftest import party_page

pytestmark = pytest.mark.django_db


def test_person_page_lists_open_activities_with_links(alice, bob, ana, call_type):
    services.create_activity(
        actor=alice,
        type=call_type,
        summary="Call Ana about renewal",
        party=ana,
        assignee=bob,
        deadline=dt.date.today() + dt.timedelta(days=2),
    )
    done = services.create_activity(
        actor=alice, type=call_type, summary="Old intro call", party=ana, assignee=bob
    )
    services.complete_activity(actor=alice, activity=done)
    html = party_page(bob, ana)
    assert 'id="activities-panel"' in html
    assert "Call Ana about renewal" in html
    assert "Old intro call" not in html.split('id="activities-panel"')[1].split("</section>")[0]
    assert f"/work/activities/new/?party={ana.public_id}" in html


def test_viewer_without_activities_gets_no_panel(vic, ana):
    assert 'id="activities-panel"' not in party_page(vic, ana)
