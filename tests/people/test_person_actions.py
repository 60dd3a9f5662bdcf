"""Starting a deal from a person's or organisation's page, filled in."""

import html
from urllib.parse import parse_qs, urlsplit

import pytest

from kith.people import services
from kith.people.views import party_url
from tests.conftest import client_for, make_org, make_person

pytestmark = pytest.mark.django_db


def _new_deal_link(body: str) -> str:
    start = body.index('data-testid="new-deal"')
    tag = body[body.rindex("<a ", 0, start) : start]
    return html.unescape(tag.split('href="')[1].split('"')[0])


def test_new_deal_from_a_person_carries_them_and_their_current_organisation(alice):
    acme = make_org(alice)
    old = make_org(alice, name="Old Co")
    ana = make_person(alice)
    import datetime as dt

    services.add_relationship(
        actor=alice,
        subject=ana,
        role="employee",
        object=old,
        valid_from=dt.date(2018, 1, 1),
        valid_to=dt.date(2020, 1, 1),
    )
    services.add_relationship(actor=alice, subject=ana, role="employee", object=acme)
    client = client_for(alice)
    url = _new_deal_link(client.get(party_url(ana)).content.decode())
    query = parse_qs(urlsplit(url).query)
    assert query == {"person": [str(ana.public_id)], "organization": [str(acme.public_id)]}
    form = client.get(url).context["form"]
    assert form.initial["person"] == str(ana.public_id)
    assert form.initial["organization"] == str(acme.public_id)


def test_new_deal_from_an_organisation(alice):
    acme = make_org(alice)
    url = _new_deal_link(client_for(alice).get(party_url(acme)).content.decode())
    assert parse_qs(urlsplit(url).query) == {"organization": [str(acme.public_id)]}


def test_an_organisation_the_user_cannot_see_is_not_carried(alice, bob):
    hidden = make_org(alice, name="Hidden", visibility="private")
    ana = make_person(alice)
    services.add_relationship(actor=alice, subject=ana, role="employee", object=hidden)
    url = _new_deal_link(client_for(bob).get(party_url(ana)).content.decode())
    assert parse_qs(urlsplit(url).query) == {"person": [str(ana.public_id)]}


def test_a_viewer_gets_no_new_deal_button(alice, vic):
    ana = make_person(alice)
    assert 'data-testid="new-deal"' not in client_for(vic).get(party_url(ana)).content.decode()
