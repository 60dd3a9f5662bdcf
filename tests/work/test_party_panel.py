"""The activities panel on a person's page: open activities the reader may see."""

import datetime as dt

import pytest
from django.test import Client

from kith.work import services

pytestmark = pytest.mark.django_db


def _page(user, party) -> str:
    client = Client()
    client.force_login(user)
    r = client.get(f"/people/{party.public_id}/")
    assert r.status_code == 200
    return r.content.decode()


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
    html = _page(bob, ana)
    assert 'id="activities-panel"' in html
    assert "Call Ana about renewal" in html
    assert "Old intro call" not in html.split('id="activities-panel"')[1].split("</section>")[0]
    assert f"/work/activities/new/?party={ana.public_id}" in html


def test_viewer_without_activities_gets_no_panel(vic, ana):
    assert 'id="activities-panel"' not in _page(vic, ana)
