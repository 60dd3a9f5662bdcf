"""Starting a case from a person's or organisation's page, filled in."""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import parse_qs, urlsplit

import pytest

from kith.people import services as people_services
from kith.people.views import party_url
from kith.service.models import Case
from tests.conftest import client_for, make_org, make_person

pytestmark = pytest.mark.django_db


def _new_case_link(body: str) -> str:
    start = body.index('data-testid="new-case"')
    tag = body[body.rindex("<a ", 0, start) : start]
    return html.unescape(tag.split('href="')[1].split('"')[0])


def test_new_case_from_a_person_is_filled_in_and_creates_their_case(alice):
    acme = make_org(alice)
    old = make_org(alice, name="Old Co")
    ana = make_person(alice, email="ana@example.com")
    people_services.add_relationship(
        actor=alice,
        subject=ana,
        role="employee",
        object=old,
        valid_from=dt.date(2018, 1, 1),
        valid_to=dt.date(2020, 1, 1),
    )
    people_services.add_relationship(actor=alice, subject=ana, role="employee", object=acme)
    client = client_for(alice)
    url = _new_case_link(client.get(party_url(ana)).content.decode())
    assert parse_qs(urlsplit(url).query) == {
        "requester": [str(ana.public_id)],
        "organization": [str(acme.public_id)],
    }
    page = client.get(url)
    form = page.context["form"]
    assert form.initial["requester"] == str(ana.public_id)
    assert form.initial["requester_email"] == "ana@example.com"
    assert form.initial["organization"] == str(acme.public_id)
    body = page.content.decode()
    # The chosen records are the pickers' selected options.
    assert f'<option value="{ana.public_id}" selected>' in body
    assert f'<option value="{acme.public_id}" selected>' in body

    r = client.post(
        "/service/cases/new/",
        {
            "subject": "Printer on fire",
            "requester": str(ana.public_id),
            "organization": str(acme.public_id),
            "origin": "phone",
            "priority": "normal",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    case = Case.objects.get(subject="Printer on fire")
    assert case.requester == ana and case.organization == acme


def test_a_requester_without_email_can_be_chosen(alice):
    ana = make_person(alice, email=None)
    client = client_for(alice)
    page = client.get(f"/service/cases/new/?requester={ana.public_id}")
    assert "requester_email" not in page.context["form"].initial
    r = client.post(
        "/service/cases/new/",
        {
            "subject": "No mail",
            "requester": str(ana.public_id),
            "origin": "web",
            "priority": "normal",
        },
    )
    assert r.status_code == 302
    assert Case.objects.get(subject="No mail").requester == ana


def test_new_case_from_an_organisation(alice):
    acme = make_org(alice)
    url = _new_case_link(client_for(alice).get(party_url(acme)).content.decode())
    assert parse_qs(urlsplit(url).query) == {"organization": [str(acme.public_id)]}


def test_the_requester_current_organisation_is_found_from_the_requester_alone(alice):
    acme = make_org(alice)
    ana = make_person(alice)
    people_services.add_relationship(actor=alice, subject=ana, role="employee", object=acme)
    form = client_for(alice).get(f"/service/cases/new/?requester={ana.public_id}").context["form"]
    assert form.initial["organization"] == str(acme.public_id)


def test_records_the_user_cannot_see_are_not_filled_in_or_accepted(alice, bob):
    hidden = make_org(alice, name="Hidden", visibility="private")
    secret = make_person(alice, given="Sec", email="sec@example.com", visibility="private")
    ana = make_person(alice)
    people_services.add_relationship(actor=alice, subject=ana, role="employee", object=hidden)
    client = client_for(bob)
    url = _new_case_link(client.get(party_url(ana)).content.decode())
    assert parse_qs(urlsplit(url).query) == {"requester": [str(ana.public_id)]}
    form = client.get(
        f"/service/cases/new/?requester={secret.public_id}&organization={hidden.public_id}"
    ).context["form"]
    assert "requester" not in form.initial and "organization" not in form.initial
    r = client.post(
        "/service/cases/new/",
        {
            "subject": "Sneaky",
            "requester": str(secret.public_id),
            "organization": str(hidden.public_id),
            "origin": "web",
            "priority": "normal",
        },
    )
    assert r.status_code == 422
    errors = r.context["form"].errors
    assert "requester" in errors and "organization" in errors
    assert not Case.objects.filter(subject="Sneaky").exists()


def test_neither_requester_nor_email_is_a_field_error(alice):
    r = client_for(alice).post(
        "/service/cases/new/", {"subject": "Who?", "origin": "web", "priority": "normal"}
    )
    assert r.status_code == 422
    assert r.context["form"].errors["requester_email"] == [
        "Choose the requester or give their e-mail."
    ]


def test_a_viewer_gets_no_new_case_button(alice, vic):
    ana = make_person(alice)
    assert 'data-testid="new-case"' not in client_for(vic).get(party_url(ana)).content.decode()
