"""Correction requests: the customer proposes, staff accept or reject with a reason;
directly editable fields apply at once; audited, on the timeline, through the outbox."""

from __future__ import annotations

from kith.cmr.models import CorrectionRequest
from kith.core.models import AuditEntry, OutboxEvent
from kith.interactions.models import Interaction
from kith.people.models import Party
from tests.conftest import ApiClient, client_for


def test_a_proposal_waits_and_staff_accept_it(alice, carol):
    person = carol.person
    made = ApiClient(carol).post(
        "/api/cmr/me/corrections",
        {"field": "family_name", "value": "Custódio", "note": "Married name"},
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["status"] == "pending" and body["current_value"] == "Customer"
    assert Party.objects.get(pk=person.pk).family_name == "Customer"
    inbox = ApiClient(alice).get("/api/cmr/corrections").json()["items"]
    assert [r["id"] for r in inbox] == [body["id"]]
    decided = ApiClient(alice).post(f"/api/cmr/corrections/{body['id']}/decision", {"accept": True})
    assert decided.status_code == 200 and decided.json()["status"] == "accepted"
    person.refresh_from_db()
    assert person.family_name == "Custódio" and person.display_name == "Carol Custódio"
    actions = set(AuditEntry.objects.filter(party_id=person.pk).values_list("action", flat=True))
    assert {"correction.requested", "correction.accepted", "person.updated"} <= actions
    names = set(OutboxEvent.objects.values_list("name", flat=True))
    assert {"correction.requested", "correction.accepted"} <= names
    summaries = list(
        Interaction.objects.filter(party=person, kind="correction").values_list(
            "summary", flat=True
        )
    )
    assert len(summaries) == 2 and any("accepted" in s for s in summaries)
    # Decided once: a second decision is a conflict.
    again = ApiClient(alice).post(
        f"/api/cmr/corrections/{body['id']}/decision", {"accept": False, "reason": "x"}
    )
    assert again.status_code == 409


def test_reject_needs_a_reason_the_customer_reads(alice, carol):
    made = ApiClient(carol).post("/api/cmr/me/corrections", {"field": "title", "value": "CEO"})
    url = f"/api/cmr/corrections/{made.json()['id']}/decision"
    no_reason = ApiClient(alice).post(url, {"accept": False})
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "reason"
    ApiClient(alice).post(url, {"accept": False, "reason": "Not what your contract says."})
    mine = ApiClient(carol).get("/api/cmr/me/corrections").json()["items"][0]
    assert mine["status"] == "rejected" and mine["reason"] == "Not what your contract says."
    page = client_for(carol).get("/cmr/my/")
    assert b"Not what your contract says." in page.content


def test_directly_editable_fields_apply_at_once(settings, carol):
    settings.KITH_CMR_CUSTOMER_EDITABLE_FIELDS = ["timezone", "contact_point"]
    made = ApiClient(carol).post(
        "/api/cmr/me/corrections", {"field": "timezone", "value": "Europe/Lisbon"}
    )
    assert made.status_code == 201 and made.json()["status"] == "applied"
    assert Party.objects.get(pk=carol.person.pk).timezone == "Europe/Lisbon"
    point = carol.person.contact_points.get()
    moved = ApiClient(carol).post(
        "/api/cmr/me/corrections",
        {"field": "contact_point", "contact_point": str(point.public_id), "value": "c@example.net"},
    )
    assert moved.status_code == 201, moved.content
    point.refresh_from_db()
    assert point.value == "c@example.net"
    # The people service validates: a bad time zone is refused, naming the field.
    bad = ApiClient(carol).post("/api/cmr/me/corrections", {"field": "timezone", "value": "Mars"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "timezone"
    assert not CorrectionRequest.objects.filter(proposed_value="Mars").exists()


def test_bad_input_is_a_clear_4xx(carol, dora):
    api = ApiClient(carol)
    unknown = api.post("/api/cmr/me/corrections", {"field": "password", "value": "x"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "field"
    extra = api.post("/api/cmr/me/corrections", {"field": "title", "value": "x", "admin": True})
    assert extra.status_code == 422
    missing = api.post("/api/cmr/me/corrections", {"field": "title"})
    assert missing.status_code == 422
    foreign = dora.person.contact_points.get()
    theirs = api.post(
        "/api/cmr/me/corrections",
        {"field": "contact_point", "contact_point": str(foreign.public_id), "value": "me@x.org"},
    )
    assert theirs.status_code == 422 and theirs.json()["errors"][0]["field"] == "contact_point"
    same = api.post("/api/cmr/me/corrections", {"field": "given_name", "value": "Carol"})
    assert same.status_code == 422
    assert not CorrectionRequest.objects.exists()


def test_customers_and_read_only_staff_cannot_decide_or_peek(carol, dora, vic, alice):
    made = ApiClient(carol).post("/api/cmr/me/corrections", {"field": "title", "value": "CTO"})
    rid = made.json()["id"]
    assert ApiClient(dora).get(f"/api/cmr/me/corrections/{rid}").status_code == 404
    assert ApiClient(carol).get(f"/api/cmr/me/corrections/{rid}").status_code == 200
    url = f"/api/cmr/corrections/{rid}/decision"
    assert ApiClient(dora).post(url, {"accept": True}).status_code == 404
    assert ApiClient(vic).post(url, {"accept": True}).status_code == 403
    assert ApiClient(dora).get("/api/cmr/corrections").status_code == 404
    assert ApiClient(alice).get("/api/cmr/corrections", status="nope").status_code == 422


def test_portal_form_and_staff_panel(alice, carol):
    web = client_for(carol)
    bad = web.post("/cmr/my/corrections/", {"field": "nope", "value": "x"})
    assert bad.status_code == 422 and b"Unknown field" in bad.content
    sent = web.post("/cmr/my/corrections/", {"field": "title", "value": "Chief Tea Officer"})
    assert sent.status_code == 302
    req = CorrectionRequest.objects.get()
    staff = client_for(alice)
    page = staff.get(f"/people/{carol.person.public_id}/")
    assert b"Chief Tea Officer" in page.content
    staff.post(
        f"/cmr/people/{carol.person.public_id}/corrections/{req.public_id}/",
        {"accept": "true"},
    )
    assert Party.objects.get(pk=carol.person.pk).title == "Chief Tea Officer"
