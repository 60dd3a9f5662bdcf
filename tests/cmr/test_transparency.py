"""The transparency log: staff reads recorded after the response, coalesced, with a
purpose where the role must give one; shown to the customer (names or teams) and staff."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.accounts.models import Team
from kith.cmr import transparency
from kith.cmr.models import AccessLogEntry
from kith.people import services as people_services
from kith.people.services import PartyInput
from tests.conftest import ApiClient, client_for


def test_person_page_read_is_logged_once_per_window_after_the_response(bob, carol):
    person = carol.person
    web = client_for(bob)
    with CaptureQueriesContext(connection) as queries:
        assert web.get(f"/people/{person.public_id}/").status_code == 200
    inserts = [q["sql"] for q in queries if "cmr_accesslogentry" in q["sql"].lower()]
    # One INSERT for the request, whatever the page read.
    assert len([q for q in inserts if q.lstrip().upper().startswith("INSERT")]) == 1
    # The timeline fragment and the page again: the same window, no new row.
    assert web.get(f"/parties/{person.public_id}/timeline/").status_code == 200
    assert web.get(f"/people/{person.public_id}/").status_code == 200
    rows = list(AccessLogEntry.objects.filter(person=person))
    assert [(r.actor_id, r.channel) for r in rows] == [(bob.pk, "web")]


def test_channels_api_search_and_export_each_get_a_row(alice, carol):
    person = carol.person
    api = ApiClient(alice)
    assert api.get(f"/api/people/{person.public_id}").status_code == 200
    assert api.get(f"/api/people/{person.public_id}/timeline").status_code == 200
    assert api.get(f"/api/people/{person.public_id}/export").status_code == 200
    web = client_for(alice)
    assert web.get(f"/people/{person.public_id}/?via=search").status_code == 200
    channels = sorted(
        AccessLogEntry.objects.filter(person=person).values_list("channel", flat=True)
    )
    assert channels == ["api", "export", "search"]


def test_customers_own_reads_and_organisations_are_not_logged(carol, alice):
    assert ApiClient(carol).get("/api/cmr/me/export").status_code == 200
    org = people_services.create_party(
        actor=alice, data=PartyInput(kind="organization", fields={"display_name": "Acme"})
    )
    assert client_for(alice).get(f"/organizations/{org.public_id}/").status_code == 200
    assert not AccessLogEntry.objects.exists()


def test_a_role_that_must_say_why_gets_400_naming_purpose(settings, bob, carol):
    settings.KITH_CMR_PURPOSE_REQUIRED_ROLES = ["agent"]
    person = carol.person
    api = ApiClient(bob)
    missing = api.get(f"/api/people/{person.public_id}")
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "purpose"
    timeline = api.get(f"/api/people/{person.public_id}/timeline")
    assert timeline.status_code == 400
    assert not AccessLogEntry.objects.exists()
    ok = api.get(
        f"/api/people/{person.public_id}", headers={"X-Kith-Purpose": "Refund for order 12"}
    )
    assert ok.status_code == 200
    assert AccessLogEntry.objects.get().purpose == "Refund for order 12"
    # The query parameter works too.
    assert api.get(f"/api/people/{person.public_id}/timeline", purpose="same").status_code == 200


def test_the_person_page_asks_for_the_reason_once_per_person(settings, bob, carol):
    settings.KITH_CMR_PURPOSE_REQUIRED_ROLES = ["agent"]
    person = carol.person
    web = client_for(bob)
    asked = web.get(f"/people/{person.public_id}/")
    assert asked.status_code == 200
    assert b'name="purpose"' in asked.content and b'id="timeline"' not in asked.content
    assert not AccessLogEntry.objects.exists()
    page = web.get(f"/people/{person.public_id}/", {"purpose": "Checking her late delivery"})
    assert page.status_code == 200 and b'id="timeline"' in page.content
    # Remembered for this person in this session: the timeline does not ask again.
    assert web.get(f"/parties/{person.public_id}/timeline/").status_code == 200
    assert AccessLogEntry.objects.get().purpose == "Checking her late delivery"


def test_customer_sees_reads_and_changes_named_by_team_when_configured(settings, alice, carol):
    person = carol.person
    alice.first_name, alice.last_name = "Alice", "Admin"
    alice.save()
    team = Team.objects.create(name="Billing")
    alice.teams.add(team)
    client_for(alice).get(f"/people/{person.public_id}/", {"purpose": "Invoice question"})
    people_services.update_party(
        actor=alice, party=person, data=PartyInput(fields={"title": "Engineer"})
    )
    log = ApiClient(carol).get("/api/cmr/me/transparency").json()["items"]
    kinds = {(e["kind"], e["who"]) for e in log}
    assert ("read", "Alice Admin") in kinds and ("change", "Alice Admin") in kinds
    assert any(e["why"] == "Invoice question" for e in log)
    settings.KITH_CMR_STAFF_NAMES = "team"
    log = ApiClient(carol).get("/api/cmr/me/transparency").json()["items"]
    assert {e["who"] for e in log if e["kind"] == "read"} == {"Billing"}
    assert "Alice" not in str(log)
    # My data shows the same log.
    page = client_for(carol).get("/cmr/my/")
    assert b"Billing" in page.content and b"Invoice question" in page.content


def test_staff_see_the_log_on_the_person_page_and_api(alice, bob, carol):
    person = carol.person
    client_for(bob).get(f"/people/{person.public_id}/")
    page = client_for(alice).get(f"/people/{person.public_id}/")
    assert b"cmr-transparency" in page.content and bob.username.encode() in page.content
    items = ApiClient(alice).get(f"/api/people/{person.public_id}/transparency").json()["items"]
    assert any(e["kind"] == "read" and e["who"] == bob.username for e in items)


def test_a_customer_cannot_read_anothers_log(carol, dora):
    assert (
        ApiClient(dora).get(f"/api/people/{carol.person.public_id}/transparency").status_code == 404
    )
    assert ApiClient(None).get("/api/cmr/me/transparency").status_code in (401, 404)


def test_switched_off_nothing_is_written(settings, alice, carol):
    settings.KITH_CMR_TRANSPARENCY = False
    assert client_for(alice).get(f"/people/{carol.person.public_id}/").status_code == 200
    assert not AccessLogEntry.objects.exists()


def test_outside_a_request_a_read_is_written_at_once_and_coalesced(alice, carol):
    for _ in range(3):
        transparency.note_read(actor=alice, person=carol.person, channel="export")
    assert AccessLogEntry.objects.count() == 1
