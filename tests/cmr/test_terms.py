"""Terms the customer proffers (IEEE 7012 style): picked from the roster, accepted or
counter-offered by the company's policy, signed, and obeyed by every process — tested
per term (sharing with partners, profiling jobs, the inactivity retention sweep)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.cmr import policy, receipts, services, terms
from kith.cmr.models import AgreementStatus, ErasureRequest, TermsAgreement
from kith.core.models import AuditEntry, OutboxEvent
from kith.insights.services import profiling_allowed
from kith.interactions.models import Interaction
from kith.people.models import Party
from tests.conftest import ApiClient, client_for


def _proffer(user, *items):
    return ApiClient(user).post("/api/cmr/me/terms", {"terms": list(items)})


def test_the_roster_is_public_vocabulary(carol):
    ids = [t["id"] for t in ApiClient(carol).get("/api/cmr/terms").json()]
    assert ids == ["no_sharing", "no_tracking", "delete_after_inactivity"]


def test_accepted_terms_are_signed_audited_and_on_the_timeline(carol):
    made = _proffer(carol, {"id": "no_sharing"})
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["status"] == "accepted" and body["terms"] == [{"id": "no_sharing"}]
    # The signed record verifies against the published key set, and not once changed.
    record = receipts.verify(body["jws"], receipts.jwks())
    assert record["terms"] == [{"id": "no_sharing"}]
    assert record["piiPrincipalId"] == str(carol.person.public_id)
    head, payload, sig = body["jws"].split(".")
    flipped = payload[:-3] + ("A" if payload[-3] != "A" else "B") + payload[-2:]
    with pytest.raises(Exception):
        receipts.verify(".".join([head, flipped, sig]), receipts.jwks())
    assert AuditEntry.objects.filter(party_id=carol.person_id, action="terms.accepted").exists()
    assert OutboxEvent.objects.filter(name="terms.accepted").exists()
    assert Interaction.objects.filter(party=carol.person, kind="terms").exists()
    mine = ApiClient(carol).get("/api/cmr/me/terms").json()
    assert mine["in_force"] == [{"id": "no_sharing"}]
    # A newer agreement supersedes the old one.
    _proffer(carol, {"id": "no_tracking"})
    statuses = list(TermsAgreement.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["superseded", "accepted"]
    assert terms.in_force(carol.person) == {"no_tracking": {"id": "no_tracking"}}


def test_bad_terms_are_clear_422s_and_nothing_is_written(carol):
    for items, field in (
        ([{"id": "sell_my_soul"}], "terms"),
        ([{"id": "delete_after_inactivity"}], "months"),
        ([{"id": "delete_after_inactivity", "months": 0}], "months"),
        ([{"id": "delete_after_inactivity", "months": 500}], "months"),
        ([{"id": "no_sharing", "months": 3}], "terms"),
    ):
        answer = _proffer(carol, *items)
        assert answer.status_code == 422, (items, answer.content)
        assert answer.json()["errors"][0]["field"] == field
    assert not TermsAgreement.objects.exists()


def test_no_sharing_withdraws_and_blocks_partner_sharing(carol):
    person = carol.person
    services.set_consent(
        actor=carol, person=person, purpose="partner_sharing", granted=True, source="portal"
    )
    assert policy.may_share(person=person)
    _proffer(carol, {"id": "no_sharing"})
    decision = policy.may_share(person=person)
    assert not decision and decision.code == "terms"
    assert not policy.has_consent(person=person, purpose="partner_sharing")
    # The withdrawal came with its own receipt, and a later grant is refused.
    assert person.consent_receipts.filter(purpose__key="partner_sharing", granted=False).exists()
    again = ApiClient(carol).post(
        "/api/cmr/me/consents", {"purpose": "partner_sharing", "granted": True}
    )
    assert again.status_code == 409 and "No data sharing" in again.content.decode()
    # Other purposes are untouched.
    services.set_consent(
        actor=carol, person=person, purpose="marketing_email", granted=True, source="portal"
    )
    assert policy.may_send(person=person, purpose="marketing_email")


def test_no_tracking_keeps_the_person_out_of_profiling_jobs(carol, dora):
    for user in (carol, dora):
        services.set_consent(
            actor=user, person=user.person, purpose="profiling", granted=True, source="portal"
        )
    both = {carol.person_id, dora.person_id}
    assert profiling_allowed(both) == both
    _proffer(carol, {"id": "no_tracking"})
    assert profiling_allowed(both) == {dora.person_id}
    assert not policy.has_consent(person=carol.person, purpose="profiling")
    refused = ApiClient(carol).post(
        "/api/cmr/me/consents", {"purpose": "profiling", "granted": True}
    )
    assert refused.status_code == 409
    # Dropping the term lets the customer allow profiling again.
    _proffer(carol)
    allowed = ApiClient(carol).post(
        "/api/cmr/me/consents", {"purpose": "profiling", "granted": True}
    )
    assert allowed.status_code == 201
    assert profiling_allowed(both) == both


def test_a_short_inactivity_period_is_counter_offered(settings, carol):
    settings.KITH_CMR_TERMS_MIN_INACTIVITY_MONTHS = 6
    made = _proffer(carol, {"id": "delete_after_inactivity", "months": 2}, {"id": "no_sharing"})
    body = made.json()
    assert made.status_code == 201 and body["status"] == "countered"
    assert {"id": "delete_after_inactivity", "months": 6} in body["terms"]
    assert "at least 6 months" in body["note"]
    assert terms.in_force(carol.person) == {}  # nothing in force until the customer agrees
    url = f"/api/cmr/me/terms/{body['id']}/counter"
    taken = ApiClient(carol).post(url, {"accept": True})
    assert taken.status_code == 200 and taken.json()["status"] == "accepted"
    assert receipts.verify(taken.json()["jws"])["status"] == "accepted"
    assert terms.in_force(carol.person)["delete_after_inactivity"]["months"] == 6
    assert ApiClient(carol).post(url, {"accept": True}).status_code == 409


def test_the_sweep_erases_after_the_inactivity_period_unless_held(carol, dora):
    terms.proffer(
        actor=carol, person=carol.person, terms=[{"id": "delete_after_inactivity", "months": 6}]
    )
    terms.proffer(
        actor=dora, person=dora.person, terms=[{"id": "delete_after_inactivity", "months": 12}]
    )
    now = timezone.now()
    assert terms.inactivity_sweep(now) == []  # both just agreed: that is activity
    later = now + dt.timedelta(days=30 * 7)
    assert terms.inactivity_sweep(later) == [carol.person_id]
    carol.person.refresh_from_db()
    assert carol.person.status == Party.Status.ERASED
    req = ErasureRequest.objects.get(person=carol.person)
    assert req.status == "erased" and "6 months without activity" in req.reason
    assert Party.objects.get(pk=dora.person_id).status == Party.Status.ACTIVE
    # Idempotent: the erased person is not matched again.
    assert terms.inactivity_sweep(later) == []


def test_the_sweep_leaves_a_person_with_a_legal_hold(carol):
    from kith.interactions import services as interaction_services

    terms.proffer(
        actor=carol, person=carol.person, terms=[{"id": "delete_after_inactivity", "months": 6}]
    )
    # An unpaid order: the company must keep the record (a legal hold).
    interaction_services.record_transaction(
        actor=None, party=carol.person, kind="order", amount="50.00", currency="EUR"
    )
    later = timezone.now() + dt.timedelta(days=30 * 7)
    assert terms.inactivity_sweep(later) == []
    assert Party.objects.get(pk=carol.person_id).status == Party.Status.ACTIVE


def test_terms_are_seen_by_staff_exported_and_private(alice, carol, dora):
    _proffer(carol, {"id": "no_tracking"})
    staff = ApiClient(alice).get(f"/api/people/{carol.person.public_id}/terms")
    assert staff.status_code == 200 and staff.json()["in_force"] == [{"id": "no_tracking"}]
    page = client_for(alice).get(f"/people/{carol.person.public_id}/")
    assert b"No tracking beyond the service" in page.content
    export = ApiClient(carol).get("/api/cmr/me/export").json()
    assert "cmr.TermsAgreement" in str(export["sections"])[:100000]
    # Another customer cannot reach them.
    agreement = TermsAgreement.objects.get(person=carol.person)
    other = ApiClient(dora).post(
        f"/api/cmr/me/terms/{agreement.public_id}/counter", {"accept": True}
    )
    assert other.status_code == 404
    assert ApiClient(dora).get("/api/cmr/me/terms").json()["items"] == []


def test_customer_picks_terms_in_the_portal(carol):
    client = client_for(carol)
    page = client.get("/cmr/my/")
    assert b"Your terms" in page.content
    done = client.post(
        "/cmr/my/terms/",
        {"terms": ["no_sharing", "delete_after_inactivity"], "months": "24"},
    )
    assert done.status_code == 302
    assert terms.in_force(carol.person) == {
        "no_sharing": {"id": "no_sharing"},
        "delete_after_inactivity": {"id": "delete_after_inactivity", "months": 24},
    }
    bad = client.post("/cmr/my/terms/", {"terms": ["delete_after_inactivity"], "months": "x"})
    assert bad.status_code == 422 and b"whole number" in bad.content
    assert TermsAgreement.objects.filter(status=AgreementStatus.ACCEPTED).count() == 1
