"""Time-zone names from users: one check everywhere (``kith.core.timezones``).

``zoneinfo.ZoneInfo(name)`` is no validator: for a folder of the tz database ("Etc",
"America") it raises IsADirectoryError, an OSError that ``except
ZoneInfoNotFoundError`` misses, so the request answered 500; and it accepts files that
are no zone names ("posixrules", "right/UTC"). Every entry point that takes a zone must
answer a 4xx naming the field, and every reader of a stored zone must fall back to UTC.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kith.accounts import services as account_services
from kith.core import timezones
from kith.service import services as service_services
from kith.service.models import BusinessCalendar
from kith.work import calendar as work_calendar
from kith.work import services as work_services
from kith.work.models import Activity, ActivityType, Meeting
from tests.conftest import ApiClient, make_person

pytestmark = pytest.mark.django_db

BAD_ZONES = ["Etc", "America", "Not/AZone"]
SRC = Path(__file__).resolve().parents[2] / "src" / "kith"


def api(user) -> ApiClient:
    """An API client whose server errors come back as a 500, not as an exception."""
    client = ApiClient(user)
    client.client.raise_request_exception = False
    return client


def web(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def is_utc(tz) -> bool:
    """``dt.UTC`` or the tz database's UTC (what an empty name reads as)."""
    return getattr(tz, "key", "UTC") == "UTC" and tz.utcoffset(None) == dt.timedelta(0)


def assert_api_field_error(response, field: str = "timezone") -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    fields = [e["field"] for e in response.json().get("errors", [])]
    assert field in fields, response.json()


def assert_form_field_error(response, field: str = "timezone") -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    form = response.context["form"]
    errors = form.errors if hasattr(form, "errors") else response.context["errors"]
    assert field in errors, errors


def _meeting(user, zone: str = "Europe/Lisbon") -> Meeting:
    start = dt.datetime(2026, 7, 10, 10, 0)
    return work_services.create_meeting(
        actor=user,
        data=work_services.MeetingInput(
            title="Kick-off", start=start, end=start + dt.timedelta(hours=1), timezone=zone
        ),
    )


def _calendar(alice) -> BusinessCalendar:
    return service_services.create_calendar(
        actor=alice, name="Office", timezone="UTC", weekly_hours={}, holidays=[]
    )


def _ics(tzid: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        "UID:zone-test@example.com\r\nSUMMARY:Zone test\r\n"
        f"DTSTART;TZID={tzid}:20260710T100000\r\nDTEND;TZID={tzid}:20260710T110000\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


# ---------------------------------------------------------------- the helper


@pytest.mark.parametrize("zone", [*BAD_ZONES, "posixrules", "right/UTC", "", "../etc/passwd"])
def test_is_valid_refuses_what_is_no_zone_name(zone):
    assert not timezones.is_valid(zone)


@pytest.mark.parametrize("zone", [*BAD_ZONES, "posixrules", "", None, "../etc/passwd", "x" * 300])
def test_zone_reads_anything_bad_as_utc(zone):
    assert is_utc(timezones.zone(zone))


def test_require_valid_names_the_field():
    from kith.core.errors import ValidationFailed

    assert timezones.require_valid(" Europe/Lisbon ", "tz") == "Europe/Lisbon"
    with pytest.raises(ValidationFailed) as caught:
        timezones.require_valid("America", "tz")
    assert [e.field for e in caught.value.errors] == ["tz"]


# ---------------------------------------------------------------- service: business hours


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_api_create_calendar(alice, zone):
    r = api(alice).post("/api/calendars", {"name": "Bad", "timezone": zone, "weekly_hours": {}})
    assert_api_field_error(r)
    assert not BusinessCalendar.objects.filter(name="Bad").exists()


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_api_update_calendar(alice, zone):
    cal = _calendar(alice)
    r = api(alice).patch(f"/api/calendars/{cal.public_id}", {"timezone": zone})
    assert_api_field_error(r)
    cal.refresh_from_db()
    assert cal.timezone == "UTC"


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_web_calendar_form(alice, zone):
    data = {"name": "Bad", "timezone": zone, "holiday_date": [""], "holiday_name": [""]}
    for day in range(5):
        data[f"open_{day}"], data[f"close_{day}"] = "09:00", "17:00"
    r = web(alice).post("/service/settings/calendars/new/", data)
    assert_form_field_error(r)


# ---------------------------------------------------------------- work: activities, meetings


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_api_create_activity(bob, zone):
    r = api(bob).post("/api/activities", {"type": "call", "summary": "Call", "timezone": zone})
    assert_api_field_error(r)


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_api_update_activity(bob, zone):
    a = work_services.create_activity(
        actor=bob, type=ActivityType.objects.get(slug="call"), summary="Call"
    )
    r = api(bob).patch(f"/api/activities/{a.public_id}", {"timezone": zone})
    assert_api_field_error(r)


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_api_create_meeting(bob, zone):
    r = api(bob).post(
        "/api/meetings",
        {
            "title": "Kick-off",
            "start": "2026-07-10T10:00",
            "end": "2026-07-10T11:00",
            "timezone": zone,
        },
    )
    assert_api_field_error(r)


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_api_update_meeting(bob, zone):
    m = _meeting(bob)
    r = api(bob).patch(f"/api/meetings/{m.public_id}", {"timezone": zone})
    assert_api_field_error(r)
    m.refresh_from_db()
    assert m.timezone == "Europe/Lisbon"


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_web_meeting_form(bob, zone):
    r = web(bob).post(
        "/work/meetings/new/",
        {"title": "Demo", "start": "2026-07-10T10:00", "end": "2026-07-10T11:00", "timezone": zone},
    )
    assert_form_field_error(r)


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_ics_import_with_a_bad_tzid(bob, zone):
    """An event's TZID is the file's input: never a 500, never a server path in the answer.

    An unknown name is read as floating time (the importer's zone); a folder of the tz
    database makes the parser fail, which is a 422 on ``file``."""
    r = api(bob).post("/api/meetings/import", {"content": _ics(zone)})
    assert r.status_code < 500, r.content[:300]
    if r.status_code >= 400:
        assert_api_field_error(r, "file")
        assert not re.search(r"Errno|/site-packages/|/usr/share/", r.content.decode())
    else:
        m = Meeting.objects.get(uid="zone-test@example.com")
        assert timezones.is_valid(m.timezone)
    upload = SimpleUploadedFile("zone.ics", _ics(zone).encode())
    page = web(bob).post("/work/meetings/import/", {"file": upload})
    assert page.status_code < 500


# ---------------------------------------------------------------- accounts: the customer's profile


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_api_portal_profile(carol, zone):
    r = api(carol).patch("/api/portal/profile", {"given_name": "Carol", "timezone": zone})
    assert_api_field_error(r)
    carol.refresh_from_db()
    assert carol.timezone == "UTC"


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_web_portal_profile(carol, zone):
    r = web(carol).post("/portal/profile/", {"given_name": "Carol", "timezone": zone})
    assert_form_field_error(r)


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_cmr_preferences(carol, zone):
    r = api(carol).client.put(
        "/api/cmr/me/preferences",
        data={"channels": ["email"], "timezone": zone},
        content_type="application/json",
    )
    assert_api_field_error(r)


# ---------------------------------------------------------------- people: a person's zone


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_api_create_person(bob, zone):
    r = api(bob).post("/api/people", {"given_name": "Dora", "timezone": zone})
    assert_api_field_error(r)


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_api_update_person(bob, zone):
    dora = make_person(bob, given="Dora", family="Dias")
    r = api(bob).patch(f"/api/people/{dora.public_id}", {"timezone": zone})
    assert_api_field_error(r)


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_web_person_form(alice, zone):
    r = web(alice).post(
        "/people/new/",
        {"given_name": "Dora", "family_name": "Dias", "visibility": "everyone", "timezone": zone},
    )
    assert_form_field_error(r)


@pytest.mark.parametrize("zone", BAD_ZONES)
def test_csv_import_rejects_the_row(bob, tmp_path, settings, zone):
    settings.MEDIA_ROOT = tmp_path / "media"
    path = tmp_path / "people.csv"
    path.write_text(f"First name,Last name,Timezone\nDora,Dias,{zone}\n")
    _, secret = account_services.issue_token(actor=bob, user=bob, name="tests")
    client = Client(headers={"Authorization": f"Bearer {secret}"}, raise_request_exception=False)
    mapping = json.dumps(
        {"First name": "given_name", "Last name": "family_name", "Timezone": "timezone"}
    )
    with path.open("rb") as handle:
        r = client.post("/api/imports", {"file": handle, "kind": "people", "mapping": mapping})
    assert r.status_code == 201, r.content[:300]
    body = r.json()
    assert (body["created"], body["rejected"]) == (0, 1)
    assert body["errors"][0]["field"] in {"Timezone", "timezone"}


# ---------------------------------------------------------------- stored bad values read as UTC


@pytest.mark.parametrize("zone", ["Etc", "America", "Not/AZone", "posixrules"])
def test_a_stored_bad_zone_is_read_as_utc(alice, bob, zone):
    """Rows written before the check (or by hand, or by an import) must not break reads."""
    # Zone helpers.
    bob.timezone = zone
    assert is_utc(timezones.of_user(bob))
    assert is_utc(timezones.zone(zone))
    # An activity's deadline.
    a = work_services.create_activity(
        actor=bob,
        type=ActivityType.objects.get(slug="call"),
        summary="Call",
        deadline=dt.date(2026, 7, 10),
        timezone_name="UTC",
    )
    Activity.objects.filter(pk=a.pk).update(timezone=zone)
    a.refresh_from_db()
    assert a.due_at() == dt.datetime(2026, 7, 10, 23, 59, 59, tzinfo=dt.UTC)
    # Business hours.
    cal = _calendar(alice)
    BusinessCalendar.objects.filter(pk=cal.pk).update(timezone=zone)
    cal.refresh_from_db()
    assert is_utc(cal.schedule().tz)
    # A meeting planned in that zone, and pages read by a user living in it.
    m = _meeting(bob)
    Meeting.objects.filter(pk=m.pk).update(timezone=zone)
    type(bob).objects.filter(pk=bob.pk).update(timezone=zone)
    assert api(bob).get(f"/api/meetings/{m.public_id}").status_code == 200
    client = web(bob)
    for path in ("/work/activities/", f"/work/meetings/{m.public_id}/", "/work/meetings/"):
        assert client.get(path).status_code == 200, path
    # An .ics import by that user falls back to UTC for floating times.
    bob.refresh_from_db()
    report = work_calendar.import_ics(
        actor=bob,
        content=_ics("Europe/Lisbon").replace("TZID=Europe/Lisbon:", "VALUE=DATE-TIME:"),
    )
    assert not report.errors and report.meetings[0].timezone == "UTC"


# ---------------------------------------------------------------- the class, for the future

# kith.cmr.policy reads two stored zones with its own fallback (OSError caught); it is
# owned elsewhere and listed until it moves to timezones.zone().
KNOWN_OUTSIDE: set[str] = set()


def test_only_core_timezones_calls_zoneinfo():
    """Reading or checking a zone name goes through ``kith.core.timezones``: a direct
    ``ZoneInfo(name)`` call is the defect this file is about, waiting to happen."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "core/timezones.py" or rel in KNOWN_OUTSIDE or "/migrations/" in rel:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        for node in ast.walk(tree):
            func = getattr(node, "func", None) if isinstance(node, ast.Call) else None
            called = getattr(func, "attr", None) or getattr(func, "id", None)
            if called == "ZoneInfo":
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []
