"""Contact preferences (channels, frequency caps, muted topics, quiet hours in the
customer's time zone), set by the customer and obeyed by the senders that exist."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core import mail
from django.utils import timezone

from kith.cmr import policy, services
from kith.cmr.models import Preference
from kith.collab import services as collab_services
from kith.core.errors import ValidationFailed
from kith.core.models import AuditEntry
from kith.service import services as service_services
from kith.service import tasks as service_tasks
from tests.conftest import ApiClient, client_for

LISBON = zoneinfo.ZoneInfo("Europe/Lisbon")


@pytest.fixture
def carol_mail(carol):
    carol.email = "carol@example.com"
    carol.save(update_fields=["email"])
    return carol


def _prefs(person, actor=None, **kw):
    return services.set_preferences(actor=actor, person=person, data=services.PreferenceInput(**kw))


def _digest(carol, text="Something new") -> int:
    collab_services.notify(user=carol, verb="system", text=text, url="")
    return collab_services.send_digest(user=carol)


def test_quiet_hours_are_in_the_customers_zone_and_cross_midnight(carol):
    _prefs(carol.person, quiet_start=dt.time(22), quiet_end=dt.time(7), timezone="Europe/Lisbon")
    late = dt.datetime(2026, 7, 1, 23, 30, tzinfo=LISBON)  # 22:30 UTC (summer time)
    decision = policy.may_send(person=carol.person, purpose="service_messages", now=late)
    assert not decision and decision.code == "quiet_hours"
    assert decision.retry_at == dt.datetime(2026, 7, 2, 7, 0, tzinfo=LISBON)
    early = dt.datetime(2026, 7, 2, 6, 59, tzinfo=LISBON)
    assert not policy.may_send(person=carol.person, purpose="service_messages", now=early)
    noon = dt.datetime(2026, 7, 2, 12, 0, tzinfo=LISBON)
    assert policy.may_send(person=carol.person, purpose="service_messages", now=noon)
    # 07:30 in Lisbon is 06:30 UTC: the zone, not UTC, decides.
    assert policy.may_send(
        person=carol.person,
        purpose="service_messages",
        now=dt.datetime(2026, 7, 2, 6, 30, tzinfo=dt.UTC),
    )


def test_digest_waits_during_quiet_hours(carol_mail):
    now = timezone.now().astimezone(LISBON)
    start = (now - dt.timedelta(hours=1)).time().replace(microsecond=0)
    end = (now + dt.timedelta(hours=1)).time().replace(microsecond=0)
    _prefs(carol_mail.person, quiet_start=start, quiet_end=end, timezone="Europe/Lisbon")
    assert _digest(carol_mail) == 0
    assert mail.outbox == []
    _prefs(carol_mail.person, timezone="Europe/Lisbon")  # quiet hours lifted
    assert collab_services.send_digest(user=carol_mail) == 1  # the waiting note goes now


def test_daily_cap_stops_the_second_message(carol_mail):
    _prefs(carol_mail.person, max_per_day=1)
    assert _digest(carol_mail, "one") == 1
    assert _digest(carol_mail, "two") == 0
    assert len(mail.outbox) == 1
    decision = policy.may_send(person=carol_mail.person, purpose="service_messages")
    assert decision.code == "cap" and decision.retry_at is not None


def test_channel_off_stops_email(carol_mail):
    _prefs(carol_mail.person, channels=["sms"])
    assert _digest(carol_mail) == 0
    assert mail.outbox == []


def test_muted_topic_stops_only_that_topic(alice, carol_mail):
    _prefs(carol_mail.person, muted_topics=["surveys"])
    case = service_services.create_case(
        actor=alice,
        data=service_services.CaseInput(subject="Kettle", requester=carol_mail.person),
    )
    assert service_tasks.send_csat_invite.call(case.pk) is False
    assert _digest(carol_mail) == 1  # notifications are not muted
    assert [m.subject for m in mail.outbox] == ["Something new"]


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"channels": ["pigeon"]}, "channels"),
        ({"muted_topics": ["gossip"]}, "muted_topics"),
        ({"max_per_day": -1}, "max_per_day"),
        ({"quiet_start": dt.time(22)}, "quiet_end"),
        ({"quiet_start": dt.time(9), "quiet_end": dt.time(9)}, "quiet_end"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_bad_preferences_are_refused_and_nothing_written(carol, kwargs, field):
    with pytest.raises(ValidationFailed) as err:
        _prefs(carol.person, actor=carol, **kwargs)
    assert field in [e.field for e in err.value.errors]
    assert not Preference.objects.exists()


def test_api_preferences_round_trip_audit_and_scope(carol, dora, vic):
    api = ApiClient(carol)
    body = {
        "channels": ["email"],
        "max_per_day": 3,
        "muted_topics": ["news"],
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "timezone": "Europe/Lisbon",
    }
    response = api._call("put", "/api/cmr/me/preferences", body)
    assert response.status_code == 200, response.content
    assert response.json()["quiet_start"].startswith("21:00")
    assert api.get("/api/cmr/me/preferences").json()["max_per_day"] == 3
    assert AuditEntry.objects.filter(action="preferences.updated", party_id=carol.person.pk)
    bad = api._call("put", "/api/cmr/me/preferences", {**body, "muted_topics": ["gossip"]})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "muted_topics"
    assert Preference.objects.get().muted_topics == ["news"]  # unchanged
    # Another customer sees their own (defaults), never carol's; staff read them.
    assert ApiClient(dora).get("/api/cmr/me/preferences").json()["max_per_day"] is None
    staff = ApiClient(vic).get(f"/api/people/{carol.person.public_id}/contact-preferences")
    assert staff.status_code == 200 and staff.json()["muted_topics"] == ["news"]


def test_portal_form_saves_and_reports_errors(carol):
    web = client_for(carol)
    response = web.post(
        "/cmr/my/preferences/",
        {"channels": ["email"], "muted_topics": ["surveys"], "max_per_week": "5"},
    )
    assert response.status_code == 302
    row = Preference.objects.get(person=carol.person)
    assert row.muted_topics == ["surveys"] and row.max_per_week == 5
    bad = web.post("/cmr/my/preferences/", {"channels": ["email"], "quiet_start": "25:99"})
    assert bad.status_code == 422
    assert b"Give a time like 22:00." in bad.content
