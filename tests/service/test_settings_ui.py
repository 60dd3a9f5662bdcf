"""Web UI for service settings: queues, business-hour calendars and SLA policies.

Managers and admins edit; agents and viewers read; portal users find nothing (404).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from kith.service.models import BusinessCalendar, Queue, SlaPolicy
from tests.conftest import login


def calendar_post(**overrides) -> dict:
    data = {
        "name": "Lisbon office",
        "timezone": "Europe/Lisbon",
        "holiday_date": ["2026-12-25", ""],
        "holiday_name": ["Christmas", ""],
    }
    for day in range(5):
        data[f"open_{day}"] = "09:00"
        data[f"close_{day}"] = "17:30"
    data.update(overrides)
    return data


def test_case_queue_links_to_settings(bob):
    html = login(bob).get("/service/").content.decode()
    assert 'href="/service/settings/"' in html


@pytest.mark.parametrize("who", ["alice", "mia"])
def test_managers_see_edit_links(request, who, queue, calendar, policies):
    user = request.getfixturevalue(who)
    page = login(user).get("/service/settings/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Support" in html and "support@example.com" in html and "bob, dan" in html
    assert "Office" in html and "Mon 09:00–17:00" in html
    assert "Normal" in html and "60 min" in html
    assert f"/service/settings/queues/{queue.public_id}/" in html
    assert "/service/settings/calendars/new/" in html
    assert login(user).get("/service/settings/sla-policies/new/").status_code == 200


@pytest.mark.parametrize("who", ["bob", "vic"])
def test_agents_and_viewers_read_only(request, who, queue, calendar, policies):
    user = request.getfixturevalue(who)
    client = login(user)
    page = client.get("/service/settings/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Support" in html and "Office" in html and "Normal" in html
    assert "/service/settings/queues/new/" not in html
    assert f"/service/settings/queues/{queue.public_id}/" not in html
    assert client.get("/service/settings/queues/new/").status_code == 403
    assert client.get(f"/service/settings/calendars/{calendar.public_id}/").status_code == 403
    r = client.post("/service/settings/queues/new/", {"name": "Sneaky", "assignment_rule": "none"})
    assert r.status_code == 403
    r = client.post(
        f"/service/settings/sla-policies/{policies['normal'].public_id}/",
        {
            "name": "Normal",
            "priority": "normal",
            "first_response_minutes": 1,
            "resolution_minutes": 2,
            "active": "on",
        },
    )
    assert r.status_code == 403
    assert not Queue.objects.filter(name="Sneaky").exists()
    assert SlaPolicy.objects.get(pk=policies["normal"].pk).first_response_minutes == 60


def test_portal_user_is_sent_to_the_portal(carol, carol_person, queue, calendar, policies):
    client = login(carol)
    for url in (
        "/service/settings/",
        "/service/settings/queues/new/",
        f"/service/settings/queues/{queue.public_id}/",
        f"/service/settings/calendars/{calendar.public_id}/",
        f"/service/settings/sla-policies/{policies['normal'].public_id}/",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == "/portal/", url


def test_anonymous_is_sent_to_login():
    r = Client().get("/service/settings/")
    assert r.status_code == 302 and "login" in r["Location"]


def test_create_queue_with_agents(mia, bob, dan):
    r = login(mia).post(
        "/service/settings/queues/new/",
        {
            "name": "VIP",
            "email_address": "VIP@Example.com",
            "assignment_rule": "round_robin",
            "agents": ["bob", "dan"],
        },
    )
    assert r.status_code == 302 and r["Location"] == "/service/settings/"
    queue = Queue.objects.get(name="VIP")
    assert queue.assignment_rule == "round_robin"
    assert queue.email_address == "vip@example.com"
    assert sorted(queue.agents.values_list("username", flat=True)) == ["bob", "dan"]


def test_edit_queue_changes_rule_and_agents(alice, queue):
    client = login(alice)
    form = client.get(f"/service/settings/queues/{queue.public_id}/").content.decode()
    assert 'value="support@example.com"' in form
    r = client.post(
        f"/service/settings/queues/{queue.public_id}/",
        {
            "name": "Support",
            "email_address": "support@example.com",
            "assignment_rule": "least_loaded",
            "agents": ["bob"],
        },
    )
    assert r.status_code == 302
    queue.refresh_from_db()
    assert queue.assignment_rule == "least_loaded"
    assert list(queue.agents.values_list("username", flat=True)) == ["bob"]


def test_queue_validation_error_shows_the_field(mia, queue):
    r = login(mia).post(
        "/service/settings/queues/new/",
        {"name": "Support", "email_address": "not an address", "assignment_rule": "none"},
    )
    assert r.status_code == 422
    html = r.content.decode()
    # The form's own check and the service's check both land on their fields.
    assert 'id="id_email_address_error"' in html and "Not a valid e-mail address." in html
    assert Queue.objects.count() == 1


def test_duplicate_queue_name_reported_on_name(mia, queue):
    r = login(mia).post(
        "/service/settings/queues/new/",
        {"name": "Support", "assignment_rule": "none"},
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert 'id="id_name_error"' in html and "A queue with this name exists." in html


def test_htmx_success_redirects_the_client(mia):
    r = login(mia).post(
        "/service/settings/queues/new/",
        {"name": "Billing", "assignment_rule": "none"},
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 200 and r["HX-Redirect"] == "/service/settings/"


def test_create_calendar_with_holiday(mia):
    r = login(mia).post("/service/settings/calendars/new/", calendar_post())
    assert r.status_code == 302, r.content.decode()
    cal = BusinessCalendar.objects.get(name="Lisbon office")
    assert cal.timezone == "Europe/Lisbon"
    assert cal.weekly_hours == {str(d): [["09:00", "17:30"]] for d in range(5)}
    assert [(h.date, h.name) for h in cal.holidays.all()] == [(dt.date(2026, 12, 25), "Christmas")]
    html = login(mia).get("/service/settings/").content.decode()
    assert "2026-12-25 (Christmas)" in html


def test_edit_calendar_adds_and_removes_holidays(alice, calendar):
    from kith.service import services

    services.update_calendar(
        actor=alice, calendar=calendar, holidays=[{"date": "2026-01-01", "name": "New Year"}]
    )
    client = login(alice)
    form = client.get(f"/service/settings/calendars/{calendar.public_id}/").content.decode()
    assert 'value="2026-01-01"' in form and 'value="09:00"' in form
    data = calendar_post(
        name="Office",
        timezone="UTC",
        holiday_date=["2026-01-01", "2026-05-01"],
        holiday_name=["New Year", "Labour Day"],
        holiday_remove=["0"],
    )
    data["open_5"], data["close_5"] = "10:00", "14:00"
    r = client.post(f"/service/settings/calendars/{calendar.public_id}/", data)
    assert r.status_code == 302, r.content.decode()
    calendar.refresh_from_db()
    assert [h.name for h in calendar.holidays.all()] == ["Labour Day"]
    assert calendar.weekly_hours["5"] == [["10:00", "14:00"]]
    assert "6" not in calendar.weekly_hours


def test_calendar_validation_errors_show_their_fields(mia):
    client = login(mia)
    r = client.post(
        "/service/settings/calendars/new/", calendar_post(timezone="Mars/Olympus", close_2="")
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert 'id="id_close_2_error"' in html and "Give both times" in html
    # The rows typed so far survive the round trip.
    assert 'value="2026-12-25"' in html
    r = client.post("/service/settings/calendars/new/", calendar_post(timezone="Mars/Olympus"))
    assert r.status_code == 422
    html = r.content.decode()
    assert 'id="id_timezone_error"' in html and "Unknown time zone" in html
    r = client.post("/service/settings/calendars/new/", calendar_post(holiday_date=["someday", ""]))
    assert r.status_code == 422 and "is not a date" in r.content.decode()
    assert not BusinessCalendar.objects.exists()


def test_create_sla_policy_for_an_organisation(mia, calendar, acme):
    r = login(mia).post(
        "/service/settings/sla-policies/new/",
        {
            "name": "Acme urgent",
            "priority": "urgent",
            "organization": str(acme.public_id),
            "first_response_minutes": 15,
            "resolution_minutes": 120,
            "calendar": str(calendar.public_id),
        },
    )
    assert r.status_code == 302, r.content.decode()
    policy = SlaPolicy.objects.get(name="Acme urgent")
    assert policy.organization == acme and policy.calendar == calendar and policy.active


def test_edit_sla_policy_changes_it(alice, policies):
    policy = policies["normal"]
    client = login(alice)
    form = client.get(f"/service/settings/sla-policies/{policy.public_id}/").content.decode()
    assert 'value="60"' in form
    r = client.post(
        f"/service/settings/sla-policies/{policy.public_id}/",
        {
            "name": "Normal (faster)",
            "priority": "normal",
            "first_response_minutes": 45,
            "resolution_minutes": 360,
            "calendar": "",
            "active": "on",
        },
    )
    assert r.status_code == 302, r.content.decode()
    policy.refresh_from_db()
    assert policy.name == "Normal (faster)"
    assert (policy.first_response_minutes, policy.resolution_minutes) == (45, 360)
    assert policy.calendar is None and policy.active


def test_sla_policy_clash_is_shown_on_priority(mia, policies):
    r = login(mia).post(
        "/service/settings/sla-policies/new/",
        {
            "name": "Second normal",
            "priority": "normal",
            "first_response_minutes": 10,
            "resolution_minutes": 20,
        },
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert 'id="id_priority_error"' in html and "already covers" in html
    bad = login(mia).post(
        "/service/settings/sla-policies/new/",
        {"name": "x", "priority": "low", "first_response_minutes": 0, "resolution_minutes": 5},
    )
    assert bad.status_code == 422 and 'id="id_first_response_minutes_error"' in bad.content.decode()


def test_unknown_record_is_404_for_managers(mia):
    import uuid

    assert login(mia).get(f"/service/settings/queues/{uuid.uuid4()}/").status_code == 404


def test_queue_agents_are_listed_by_name_whatever_the_order_they_were_added(alice, bob, dan):
    from kith.accounts import services as account_services
    from kith.accounts.models import Role
    from kith.service import services

    # Created last, named first: neither creation nor insertion order gives the name order.
    aaron = account_services.create_user(
        actor=None, username="aaron", password="x-long-password-1", role=Role.AGENT
    )
    services.create_queue(actor=alice, name="Escalations", agents=[dan, aaron, bob])
    html = login(alice).get("/service/settings/").content.decode()
    row = html.split("Escalations", 1)[1].split("</tr>", 1)[0]
    assert "aaron, bob, dan" in row
