"""E-mail templates: the settings pages, the service rules and the API."""

from __future__ import annotations

import pytest

from kith.mail import services
from kith.mail.models import EmailTemplate
from kith.people import services as people_services
from tests.conftest import client_for, make_org, make_person

pytestmark = pytest.mark.django_db

BODY = "Dear {{ first_name }},\n\nThanks for choosing us at {{ organisation }}.\n\n{{ my_name }}"


def _template(actor, **kw) -> EmailTemplate:
    data = {"name": "Welcome", "subject": "Welcome, {{ first_name }}", "body": BODY, **kw}
    return services.create_template(actor=actor, **data)


def test_a_manager_adds_a_template_on_the_settings_page(mia):
    client = client_for(mia)
    assert client.get("/settings/email-templates/").status_code == 200
    r = client.post(
        "/settings/email-templates/",
        {"name": "Welcome", "subject": "Hi {{ first_name }}", "body": BODY},
    )
    assert r.status_code == 302
    template = EmailTemplate.objects.get(name="Welcome")
    assert template.subject == "Hi {{ first_name }}"
    page = client.get("/settings/email-templates/").content.decode()
    assert "Welcome" in page and "{{ my_name }}" in page  # the placeholder list


def test_a_bad_placeholder_is_a_field_error_on_the_page(mia):
    r = client_for(mia).post(
        "/settings/email-templates/",
        {"name": "Bad", "subject": "Hi", "body": "Dear {{ person.user.password }}"},
    )
    assert r.status_code == 422
    errors = r.context["form"].errors
    assert "body" in errors and "{{ person.user.password }}" in errors["body"][0]
    assert not EmailTemplate.objects.filter(name="Bad").exists()


def test_edit_and_delete_on_the_settings_page(alice):
    template = _template(alice)
    client = client_for(alice)
    url = f"/settings/email-templates/{template.public_id}/"
    r = client.post(url, {"name": "Hello", "subject": "Hello {{ first_name }}", "body": "Hi"})
    assert r.status_code == 302
    template.refresh_from_db()
    assert template.name == "Hello" and template.body == "Hi"
    r = client.post(url, {"name": "Hello", "subject": "Hello {% now %}", "body": "Hi"})
    assert r.status_code == 422 and "subject" in r.context["form"].errors
    assert client.post(url, {"action": "delete"}).status_code == 302
    assert not EmailTemplate.objects.filter(pk=template.pk).exists()


def test_agents_cannot_manage_templates_and_customers_see_nothing(alice, bob, carol):
    template = _template(alice)
    client = client_for(bob)
    assert client.get("/settings/email-templates/").status_code == 403
    assert client.get(f"/settings/email-templates/{template.public_id}/").status_code == 403
    r = client.post("/settings/email-templates/", {"name": "X", "subject": "X", "body": "X"})
    assert r.status_code == 403 and not EmailTemplate.objects.filter(name="X").exists()
    # A customer is sent to their own pages, never shown the staff settings.
    r = client_for(carol).get("/settings/email-templates/")
    assert r.status_code in (302, 404) and b"Welcome" not in r.content


def test_duplicate_names_are_refused(alice):
    _template(alice)
    with pytest.raises(Exception) as info:
        _template(alice, name="welcome")
    assert info.value.errors[0].field == "name"


def test_render_fills_in_the_person_and_the_sender(alice):
    alice.first_name, alice.last_name = "Alice", "Admin"
    alice.save()
    acme = make_org(alice)
    ana = make_person(alice, email="ana@example.com")
    people_services.add_relationship(actor=alice, subject=ana, role="employee", object=acme)
    subject, body = services.render_template(actor=alice, template=_template(alice), person=ana)
    assert subject == "Welcome, Ana"
    assert body == "Dear Ana,\n\nThanks for choosing us at Acme Ltd.\n\nAlice Admin"


# ---------------------------------------------------------------- API


def test_api_crud_and_render(alice, api_as):
    api = api_as(alice)
    r = api.post(
        "/api/email-templates", {"name": "Welcome", "subject": "Hi {{ first_name }}", "body": BODY}
    )
    assert r.status_code == 201, r.content
    tid = r.json()["id"]
    assert [t["name"] for t in api.get("/api/email-templates").json()] == ["Welcome"]
    r = api.patch(f"/api/email-templates/{tid}", {"subject": "Hello {{ first_name }}"})
    assert r.status_code == 200 and r.json()["subject"] == "Hello {{ first_name }}"
    ana = make_person(alice)
    r = api.post(f"/api/email-templates/{tid}/render", {"person": str(ana.public_id)})
    assert r.status_code == 200 and r.json()["subject"] == "Hello Ana"
    assert api.delete(f"/api/email-templates/{tid}").status_code == 204
    assert api.get(f"/api/email-templates/{tid}").status_code == 404


def test_api_bad_placeholder_is_a_422_naming_the_field(alice, api_as):
    r = api_as(alice).post(
        "/api/email-templates", {"name": "X", "subject": "{{ nope }}", "body": "{% if 1 %}"}
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"subject", "body"}


def test_api_access(alice, bob, carol, api_as):
    template = _template(alice)
    url = f"/api/email-templates/{template.public_id}"
    agent = api_as(bob)
    assert agent.get("/api/email-templates").status_code == 200  # agents write with them
    assert agent.get(url).status_code == 200
    assert agent.patch(url, {"name": "Mine"}).status_code == 403
    assert agent.delete(url).status_code == 403
    assert (
        agent.post("/api/email-templates", {"name": "A", "subject": "A", "body": "A"}).status_code
        == 403
    )
    customer = api_as(carol)
    assert customer.get("/api/email-templates").status_code == 404
    assert customer.get(url).status_code == 404
