"""Consent per purpose and channel: signed Kantara receipts that verify against the
published JWKS, and withdrawal that stops the next send of every existing sender."""

from __future__ import annotations

import json
import stat

import pytest
from django.core import mail

from kith.cmr import policy, receipts, services
from kith.cmr.models import ConsentReceipt
from kith.collab import services as collab_services
from kith.core.errors import ValidationFailed
from kith.core.models import AuditEntry, OutboxEvent
from kith.service import services as service_services
from kith.service import tasks as service_tasks
from kith.service.models import CaseMessage
from tests.conftest import ApiClient, client_for

KANTARA_FIELDS = {
    "version",
    "jurisdiction",
    "consentTimestamp",
    "collectionMethod",
    "consentReceiptID",
    "publicKey",
    "language",
    "piiPrincipalId",
    "piiControllers",
    "policyUrl",
    "services",
    "sensitive",
    "spiCat",
}
PURPOSE_FIELDS = {
    "purpose",
    "purposeCategory",
    "consentType",
    "piiCategory",
    "primaryPurpose",
    "termination",
    "thirdPartyDisclosure",
}


def _withdraw(carol, purpose="service_messages"):
    return services.set_consent(
        actor=carol, person=carol.person, purpose=purpose, granted=False, source="portal"
    )


def test_receipt_is_kantara_and_verifies_against_published_jwks(client, carol):
    receipt = _withdraw(carol, "marketing_email")
    body = receipt.receipt
    assert set(body) >= KANTARA_FIELDS
    assert body["version"] == "KI-CR-v1.1.0"
    assert body["piiPrincipalId"] == str(carol.person.public_id)
    assert body["consentReceiptID"] == str(receipt.public_id)
    assert body["collectionMethod"] == "portal"
    purpose = body["services"][0]["purposes"][0]
    assert set(purpose) >= PURPOSE_FIELDS
    assert purpose["purposeCategory"] == ["Marketing"]
    assert body["x-kith"]["state"] == "withdrawn"
    # Anyone can verify with the published key set, offline.
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    jwks = response.json()
    assert [k["kid"] for k in jwks["keys"]] == [receipt.key_id]
    assert "d" not in jwks["keys"][0]  # never the private half
    assert receipts.verify(receipt.jws, jwks) == body


@pytest.mark.parametrize("part", [0, 1, 2])
def test_receipt_fails_after_one_byte_changes(carol, part):
    token = _withdraw(carol).jws
    pieces = token.split(".")
    piece = pieces[part]
    middle = len(piece) // 2
    pieces[part] = piece[:middle] + ("A" if piece[middle] != "A" else "B") + piece[middle + 1 :]
    with pytest.raises(ValidationFailed):
        receipts.verify(".".join(pieces))


def test_signing_key_is_made_once_private_and_kept(settings, carol):
    first = _withdraw(carol).key_id
    path = settings.DATA_DIR / receipts.KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    receipts._cache.clear()  # a new process reads the same key
    assert _withdraw(carol).key_id == first
    assert "d" in json.loads(path.read_text())


def test_change_is_audited_and_emitted_and_state_follows_latest(carol):
    assert policy.has_consent(person=carol.person, purpose="service_messages")
    assert not policy.has_consent(person=carol.person, purpose="marketing_email")
    services.set_consent(
        actor=carol, person=carol.person, purpose="marketing_email", granted=True, source="portal"
    )
    assert policy.has_consent(person=carol.person, purpose="marketing_email")
    # A channel-specific answer and a later one for every channel: the later one wins.
    services.set_consent(
        actor=carol,
        person=carol.person,
        purpose="marketing_email",
        granted=False,
        source="portal",
        channel="any",
    )
    assert not policy.has_consent(person=carol.person, purpose="marketing_email")
    assert ConsentReceipt.objects.filter(person=carol.person).count() == 2
    assert AuditEntry.objects.filter(action="consent.withdrawn", party_id=carol.person.pk).exists()
    assert OutboxEvent.objects.filter(name="consent.granted").count() == 1
    assert not policy.has_consent(person=carol.person, purpose="no_such_purpose")


def test_unknown_purpose_channel_source_are_refused_and_nothing_written(carol):
    for kwargs, field in (
        ({"purpose": "telepathy"}, "purpose"),
        ({"purpose": "marketing_email", "channel": "pigeon"}, "channel"),
        ({"purpose": "marketing_email", "source": "rumour"}, "source"),
    ):
        args = {"source": "portal", **kwargs}
        with pytest.raises(ValidationFailed) as err:
            services.set_consent(actor=carol, person=carol.person, granted=False, **args)
        assert err.value.errors[0].field == field
    assert not ConsentReceipt.objects.exists()


# ---------------------------------------------------------------- enforcement


@pytest.fixture
def carol_mail(carol):
    carol.email = "carol@example.com"
    carol.save(update_fields=["email"])
    return carol


def test_withdrawal_stops_the_next_digest_at_once(carol_mail):
    carol = carol_mail
    collab_services.notify(user=carol, verb="system", text="Your idea moved", url="/x/")
    _withdraw(carol)
    assert collab_services.send_digest(user=carol) == 0
    assert mail.outbox == []
    services.set_consent(
        actor=carol, person=carol.person, purpose="service_messages", granted=True, source="portal"
    )
    assert collab_services.send_digest(user=carol) == 1
    assert mail.outbox[0].to == ["carol@example.com"]


def test_digest_purpose_is_configurable(settings, carol_mail):
    carol = carol_mail
    settings.KITH_CMR_DIGEST_PURPOSE = "marketing_email"  # not granted by default
    collab_services.notify(user=carol, verb="system", text="News", url="")
    assert collab_services.send_digest(user=carol) == 0
    services.set_consent(
        actor=carol, person=carol.person, purpose="marketing_email", granted=True, source="portal"
    )
    assert collab_services.send_digest(user=carol) == 1


def test_staff_digest_is_not_a_customer_consent_matter(bob):
    bob.email = "bob@example.com"
    bob.save()
    collab_services.notify(user=bob, verb="system", text="Assigned", url="")
    assert collab_services.send_digest(user=bob) == 1


@pytest.fixture
def case(alice, carol):
    return service_services.create_case(
        actor=alice,
        data=service_services.CaseInput(subject="Broken kettle", requester=carol.person),
    )


def _reply(alice, case) -> CaseMessage:
    # Written without mailing (the on-commit send is what is under test, called directly).
    reply = service_services.add_message(
        actor=alice, case=case, kind=CaseMessage.Kind.REPLY, body="We fixed it", send_email=False
    )
    CaseMessage.objects.filter(pk=reply.pk).update(to_email="carol@example.com")
    reply.refresh_from_db()
    return reply


def test_withdrawal_stops_csat_invite_and_case_reply(alice, carol, case):
    _withdraw(carol)
    assert service_tasks.send_csat_invite.call(case.pk) is False
    reply = _reply(alice, case)
    assert service_services.deliver_reply(reply) is False
    reply.refresh_from_db()
    assert reply.sent_at is None
    assert reply.send_error.startswith("Not sent: No consent")
    assert mail.outbox == []


def test_with_consent_csat_and_reply_go_and_are_counted(alice, carol, case):
    assert service_tasks.send_csat_invite.call(case.pk) is True
    reply = _reply(alice, case)
    assert service_services.deliver_reply(reply) is True
    assert len(mail.outbox) == 2
    from kith.cmr.models import SentMessage

    assert sorted(SentMessage.objects.values_list("sender", flat=True)) == [
        "service.csat",
        "service.reply",
    ]


# ---------------------------------------------------------------- API and pages


def test_customer_api_consents_and_receipts(carol):
    api = ApiClient(carol)
    state = {(c["purpose"], c["channel"]): c for c in api.get("/api/cmr/me/consents").json()}
    assert state[("marketing_email", "any")]["granted"] is False
    assert state[("marketing_email", "any")]["explicit"] is False
    response = api.post("/api/cmr/me/consents", {"purpose": "marketing_email", "granted": True})
    assert response.status_code == 201, response.content
    rid = response.json()["id"]
    assert receipts.verify(response.json()["jws"])["x-kith"]["state"] == "granted"
    assert api.get("/api/cmr/me/receipts").json()["items"][0]["id"] == rid
    jwt = api.get(f"/api/cmr/me/receipts/{rid}/jwt")
    assert jwt["Content-Type"] == "application/jwt"
    assert receipts.verify(jwt.content.decode())["consentReceiptID"] == rid


def test_bad_consent_input_is_a_precise_4xx(carol):
    api = ApiClient(carol)
    bad = api.post("/api/cmr/me/consents", {"purpose": "telepathy", "granted": True})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "purpose"
    missing = api.post("/api/cmr/me/consents", {"purpose": "marketing_email"})
    assert missing.status_code == 422
    assert api.get("/api/cmr/me/receipts/not-a-uuid").status_code == 404
    assert not ConsentReceipt.objects.exists()


def test_customer_cannot_reach_another_customers_receipt(carol, dora):
    rid = _withdraw(carol).public_id
    other = ApiClient(dora)
    assert other.get(f"/api/cmr/me/receipts/{rid}").status_code == 404
    assert other.get(f"/api/cmr/me/receipts/{rid}/jwt").status_code == 404
    assert client_for(dora).get(f"/cmr/my/receipts/{rid}.jwt").status_code == 404
    # Nor the staff view of a person.
    assert other.get(f"/api/people/{carol.person.public_id}/consents").status_code == 404


def test_staff_read_and_record_consent_by_role(alice, vic, carol):
    pid = carol.person.public_id
    assert ApiClient(vic).get(f"/api/people/{pid}/consents").status_code == 200
    refused = ApiClient(vic).post(
        f"/api/people/{pid}/consents", {"purpose": "marketing_email", "granted": True}
    )
    assert refused.status_code == 403
    ok = ApiClient(alice).post(
        f"/api/people/{pid}/consents", {"purpose": "research_panels", "granted": True}
    )
    assert ok.status_code == 201
    assert ok.json()["source"] == "staff"
    assert ok.json()["actor"] == "alice"
    history = ApiClient(alice).get(f"/api/people/{pid}/consent-receipts").json()["items"]
    assert [h["purpose"] for h in history] == ["research_panels"]
    bad_source = ApiClient(alice).post(
        f"/api/people/{pid}/consents",
        {"purpose": "research_panels", "granted": True, "source": "portal"},
    )
    assert bad_source.status_code == 422


def test_my_data_page_withdraw_and_download(carol):
    web = client_for(carol)
    page = web.get("/cmr/my/")
    assert page.status_code == 200
    assert b"Marketing e-mail" in page.content
    response = web.post(
        "/cmr/my/consents/", {"purpose": "service_messages", "channel": "any", "granted": "false"}
    )
    assert response.status_code == 302
    assert not policy.has_consent(person=carol.person, purpose="service_messages")
    receipt = ConsentReceipt.objects.get()
    page = web.get("/cmr/my/").content.decode()
    assert f"/cmr/my/receipts/{receipt.public_id}.jwt" in page
    download = web.get(f"/cmr/my/receipts/{receipt.public_id}.jwt")
    assert download.content.decode() == receipt.jws
    bad = web.post("/cmr/my/consents/", {"purpose": "telepathy", "granted": "true"})
    assert bad.status_code == 422


def test_staff_panel_shows_history_and_records_phone_consent(alice, vic, carol):
    page = client_for(alice).get(f"/people/{carol.person.public_id}/").content.decode()
    assert 'id="cmr-consent"' in page
    assert "Record on the phone" in page
    response = client_for(alice).post(
        f"/cmr/people/{carol.person.public_id}/consents/",
        {"purpose": "marketing_email", "granted": "true"},
    )
    assert response.status_code == 302
    assert policy.has_consent(person=carol.person, purpose="marketing_email")
    viewer_page = client_for(vic).get(f"/people/{carol.person.public_id}/").content.decode()
    assert "Record on the phone" not in viewer_page
    assert "Consent history" in viewer_page
    assert (
        client_for(vic)
        .post(
            f"/cmr/people/{carol.person.public_id}/consents/",
            {"purpose": "marketing_email", "granted": "false"},
        )
        .status_code
        == 403
    )


def test_withdrawal_stops_immediate_notification_mail(
    carol_mail, django_capture_on_commit_callbacks
):
    carol = carol_mail
    collab_services.set_email_digest(actor=carol, mode="immediate")
    with django_capture_on_commit_callbacks(execute=True):
        collab_services.notify(user=carol, verb="system", text="First", url="")
    assert [m.subject for m in mail.outbox] == ["First"]
    _withdraw(carol)
    with django_capture_on_commit_callbacks(execute=True):
        collab_services.notify(user=carol, verb="system", text="Second", url="")
    assert [m.subject for m in mail.outbox] == ["First"]
