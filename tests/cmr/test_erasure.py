"""Erasure: every model is classified, the done-test (a person with data in every app is
erased; no erased value is left in any text column, search index, outbox payload or
sent-mail copy; aggregates stay), the workflow with legal holds, permissions, 409s."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.apps import apps
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.cmr import erasure, registry
from kith.cmr import services as cmr_services
from kith.cmr.models import ErasureRequest
from kith.collab import services as collab_services
from kith.community import services as community_services
from kith.core.models import AuditEntry, OutboxEvent, TrashItem
from kith.ideas import services as idea_services
from kith.interactions import services as interaction_services
from kith.interactions.models import Interaction, Transaction
from kith.mail import services as mail_services
from kith.people import services as people_services
from kith.people.models import Party
from kith.sales import services as sales_services
from kith.sales.models import Deal, Stage
from kith.service import services as service_services
from kith.service.models import Case
from kith.work import services as work_services
from kith.work.models import ActivityType
from tests.cmr.test_export import models_with_a_path_to_party
from tests.conftest import PASSWORD, ApiClient, client_for

GIVEN, FAMILY = "Zephyrine", "Quixwell"
NAME = f"{GIVEN} {FAMILY}"
EMAIL = "zephyrine.quixwell@example.org"
PHONE = "+1 415 555 0199"
PHONE_E164 = "+14155550199"
HANDLE = "zquixwell"
USERNAME = "zephq"
PHRASE = "plumbous marmalade kettle"


def test_every_model_with_a_path_to_a_person_has_an_erasure_rule_or_is_kept():
    classified = set(erasure.RULES) | set(erasure.KEPT) | set(erasure.SPECIAL)
    missing = sorted(models_with_a_path_to_party() - classified)
    assert not missing, (
        "Models with a path to a person that erasure neither handles nor keeps with a "
        "reason; add register_erasure(...) or register_kept(...) in kith.cmr.erasure: "
        f"{missing}"
    )


def test_erasure_rules_name_real_models_fields_and_reasons():
    for label, rule in erasure.RULES.items():
        model = apps.get_model(label)
        for name in rule.scrub:
            f = model._meta.get_field(name)
            assert isinstance(f, models.CharField | models.TextField | models.JSONField), name
        for lookup in rule.lookups:
            str(model._default_manager.filter(**{lookup: 0}).query)  # raises for a bad lookup
    assert all(reason.strip() for reason in erasure.KEPT.values())
    assert not set(erasure.RULES) & set(erasure.KEPT)
    assert registry.EXPORTS  # the export registry is the other half of the same graph


@pytest.fixture
def zeph(alice) -> User:
    """A customer created through the API (so an idempotency record holds her too)."""
    created = ApiClient(alice).post(
        "/api/people",
        {
            "given_name": GIVEN,
            "family_name": FAMILY,
            "contact_points": [
                {"channel": "email", "value": EMAIL},
                {"channel": "phone", "value": PHONE},
                {"channel": "twitter", "value": "@" + HANDLE},
            ],
        },
        headers={"Idempotency-Key": "zeph-create"},
    )
    assert created.status_code == 201, created.content
    person = Party.objects.get(public_id=created.json()["id"])
    people_services.add_relationship(actor=None, subject=person, role="customer")
    return account_services.create_user(
        actor=None,
        username=USERNAME,
        password=PASSWORD,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=person,
        email=EMAIL,
    )


@pytest.fixture
def everywhere(settings, tmp_path, alice, bob, zeph):
    """Data of zeph's in every app, built with the apps' services."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "sent-mail"
    person = zeph.person
    cmr_services.set_consent(
        actor=zeph, person=person, purpose="marketing_email", granted=True, source="portal"
    )
    interaction_services.log_interaction(
        actor=alice, party=person, channel="call", summary=f"Call with {NAME}", body=PHRASE
    )
    interaction_services.log_interaction(
        actor=alice, party=person, channel="email", summary="Follow-up", body=f"Mail {EMAIL}"
    )
    interaction_services.record_transaction(
        actor=alice, party=person, kind="order", amount="120.00", currency="EUR"
    )
    interaction_services.record_transaction(
        actor=alice, party=person, kind="payment", amount="120.00", currency="EUR"
    )
    deal = sales_services.create_deal(
        actor=alice,
        data={"title": "Kettles", "person": person, "amount": "480.00", "notes": PHRASE},
    )
    won = Stage.objects.filter(pipeline=deal.stage.pipeline, is_won=True).first()
    sales_services.move_deal(actor=alice, deal=deal, stage=won)
    case = service_services.create_case(
        actor=alice,
        data=service_services.CaseInput(
            subject=f"{FAMILY} kettle", description=PHRASE, requester=person
        ),
    )
    service_services.add_message(
        actor=alice, case=case, kind="reply", body=f"Dear {NAME}, about the {PHRASE}."
    )
    service_services.reply_as_customer(
        actor=zeph,
        case=case,
        body=f"Thanks, {PHRASE}! Call me on {PHONE}",
        files=[SimpleUploadedFile("receipt.txt", f"{NAME} {PHRASE}".encode(), "text/plain")],
    )
    # A copy of a message sent to her, as the file backend keeps it.
    mail.send_mail(f"Your case, {NAME}", f"Dear {NAME}, {PHRASE}", None, [EMAIL])
    service_services.change_status(actor=alice, case=case, status="resolved")
    post = collab_services.create_post(actor=zeph, target=person, body=f"My {PHRASE} is broken")
    collab_services.add_attachment(
        actor=zeph, post=post, upload=SimpleUploadedFile("note.txt", b"hello", "text/plain")
    )
    collab_services.create_comment(actor=zeph, post=post, body=f"Still {PHRASE}")
    collab_services.create_post(actor=alice, target=person, body=f"Spoke to {NAME} today")
    space = community_services.create_space(actor=alice, name="Help", slug="help")
    topic = community_services.create_topic(
        actor=zeph, space=space, title=f"{FAMILY} asks about kettles", body=f"Why {PHRASE}?"
    )
    community_services.reply(actor=bob, topic=topic, body=f"Hello {NAME}, welcome")
    community_services.reply(actor=zeph, topic=topic, body=f"Me again: {PHRASE}")
    category = idea_services.create_category(actor=alice, name="Kettles")
    idea = idea_services.create_idea(
        actor=zeph, title=f"{FAMILY} idea", body=f"Make a {PHRASE}", category=category
    )
    idea_services.comment_on_idea(actor=zeph, idea=idea, body=f"And {PHRASE} too")
    work_services.create_activity(
        actor=alice,
        type=ActivityType.objects.get(slug="call"),
        summary=f"Call {NAME} back",
        note=PHRASE,
        record=person,
        deadline=dt.date(2026, 12, 24),
    )
    # An e-mail composed to her (its stored copy), and a record about her in the trash.
    mail_services.send_email(
        actor=alice, person=person, subject=f"Hello {GIVEN}", body=f"Dear {NAME}, {PHRASE}"
    )
    trashed = work_services.create_activity(
        actor=alice,
        type=ActivityType.objects.get(slug="call"),
        summary=f"Old call with {NAME}",
        note=PHRASE,
        record=person,
    )
    work_services.delete_activity(actor=alice, activity=trashed)
    return person


def _text_columns():
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for f in model._meta.concrete_fields:
            if isinstance(f, models.CharField | models.TextField | models.JSONField):
                yield model, f


def _leftovers(values: list[str]) -> list[str]:
    """Every (table.column, value) where an erased value is still found."""
    needles = [v.casefold() for v in values]
    found = []
    for model, f in _text_columns():
        for raw in model._default_manager.values_list(f.name, flat=True).iterator():
            if raw is None:
                continue
            text = json.dumps(raw, ensure_ascii=False) if not isinstance(raw, str) else raw
            text = text.casefold()
            found += [f"{model._meta.label}.{f.name}: {v}" for v in needles if v in text]
    return found


def _index_leftovers(words: list[str]) -> list[str]:
    out = []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for table in ("people_party_fts", "community_topic_fts"):
                cursor.execute(f"SELECT tokens FROM {table}")
                for (tokens,) in cursor.fetchall():
                    out += [f"{table}: {w}" for w in words if w in (tokens or "").split()]
        else:
            cursor.execute("SELECT word FROM people_search_word")
            vocabulary = {w for (w,) in cursor.fetchall()}
            out += [f"people_search_word: {w}" for w in words if w in vocabulary]
            for table in ("people_party", "community_topic"):
                cursor.execute(
                    f"SELECT count(*) FROM {table} WHERE search_vector @@ to_tsquery('simple', %s)",
                    [" | ".join(words)],
                )
                if cursor.fetchone()[0]:
                    out.append(f"{table}.search_vector")
    return out


def test_erasing_a_person_leaves_no_value_anywhere_and_keeps_aggregates(
    settings, alice, zeph, everywhere, django_capture_on_commit_callbacks
):
    person = everywhere
    values = [NAME, EMAIL, PHONE, PHONE_E164, HANDLE, USERNAME, PHRASE]
    # The data really is everywhere before: the scan would catch a leftover.
    before = _leftovers(values)
    for where in (
        "interactions.Interaction",
        "service.CaseMessage",
        "collab.Post",
        "community.Post",
        "ideas.Idea",
        "core.OutboxEvent",
        "core.IdempotencyRecord",
        "core.AuditEntry",
        "work.Activity",
        "mail.OutgoingEmail",
        "core.TrashItem",
    ):
        assert any(hit.startswith(where + ".") for hit in before), where
    assert TrashItem.objects.filter(party_id=person.pk).exists()
    assert _index_leftovers(["zephyrine", "quixwell"])
    sent = list((settings.EMAIL_FILE_PATH).glob("*"))
    assert sent and any(EMAIL.encode() in p.read_bytes() for p in sent)
    counts = {
        "interactions": Interaction.objects.filter(party=person).count(),
        "amount": Deal.objects.get(person=person).amount,
        "tx": sorted(Transaction.objects.filter(party=person).values_list("amount", flat=True)),
        "cases": Case.objects.filter(requester=person).count(),
        "community_posts": apps.get_model("community", "Post").objects.count(),
    }

    req = ErasureRequest.objects.filter(person=person)
    assert not req.exists()
    with django_capture_on_commit_callbacks(execute=True):
        done = ApiClient(alice).post(f"/api/people/{person.public_id}/erasure")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "erased"

    leftovers = _leftovers(values)
    assert not leftovers, leftovers
    assert not _index_leftovers(["zephyrine", "quixwell", "marmalade", "plumbous"])
    assert not [p for p in settings.EMAIL_FILE_PATH.glob("*") if EMAIL.encode() in p.read_bytes()]
    # Aggregates stay: interactions (one more: none), amounts, cases, posts.
    person.refresh_from_db()
    assert person.status == Party.Status.ERASED
    assert Interaction.objects.filter(party=person).count() == counts["interactions"]
    assert Deal.objects.get(person=person).amount == counts["amount"] == Decimal("480.00")
    assert (
        sorted(Transaction.objects.filter(party=person).values_list("amount", flat=True))
        == counts["tx"]
    )
    assert Case.objects.filter(requester=person).count() == counts["cases"]
    assert apps.get_model("community", "Post").objects.count() == counts["community_posts"]
    # Stored copies of mail sent to her and trashed records about her are gone.
    assert not apps.get_model("mail", "OutgoingEmail").objects.filter(party=person).exists()
    assert not TrashItem.objects.filter(party_id=person.pk).exists()
    # Attachments are gone, files included.
    assert not apps.get_model("collab", "Attachment").objects.exists()
    assert not apps.get_model("service", "Attachment").objects.exists()
    # Their posts show as by a former member; the login is closed.
    zeph.refresh_from_db()
    assert zeph.get_full_name() == "A former member" and not zeph.is_active
    assert not zeph.has_usable_password()
    # The audit log keeps that it happened, not what was erased.
    entry = AuditEntry.objects.get(action="person.erased")
    assert entry.party_id == person.pk and "rows" in entry.changes
    assert OutboxEvent.objects.filter(name="person.erased").exists()


def test_erasing_an_erased_person_is_a_clear_409(alice, zeph):
    api = ApiClient(alice)
    assert api.post(f"/api/people/{zeph.person.public_id}/erasure").status_code == 200
    again = api.post(f"/api/people/{zeph.person.public_id}/erasure")
    assert again.status_code == 409
    assert "erased already" in again.json()["detail"]
    with pytest.raises(Exception, match="erased already"):
        erasure.erase(actor=alice, person=zeph.person)


def test_holds_refuse_the_erasure_and_are_explained_to_the_customer(settings, alice, zeph):
    person = zeph.person
    settings.KITH_CMR_RETAIN_TRANSACTIONS_DAYS = 3650
    interaction_services.record_transaction(
        actor=alice, party=person, kind="order", amount="50.00", currency="EUR"
    )
    service_services.create_case(
        actor=alice, data=service_services.CaseInput(subject="Open one", requester=person)
    )
    customer = ApiClient(zeph)
    filed = customer.post("/api/cmr/me/erasure")
    assert filed.status_code == 201
    codes = {h["code"] for h in filed.json()["holds"]}
    assert codes == {"open_cases", "open_invoices", "retention_transactions"}
    # Asking again answers the same pending request.
    again = customer.post("/api/cmr/me/erasure")
    assert again.json()["id"] == filed.json()["id"]
    processed = ApiClient(alice).post(f"/api/cmr/erasure-requests/{filed.json()['id']}/process")
    assert processed.status_code == 200
    body = processed.json()
    assert body["status"] == "refused" and "open" in body["reason"]
    person.refresh_from_db()
    assert person.status == Party.Status.ACTIVE and person.display_name == NAME
    page = client_for(zeph).get("/cmr/my/")
    assert b'data-hold="open_cases"' in page.content
    assert b"Refused" in page.content
    # A refused request cannot be processed twice.
    assert (
        ApiClient(alice).post(f"/api/cmr/erasure-requests/{filed.json()['id']}/process").status_code
        == 409
    )


def test_staff_refuse_with_a_reason(alice, zeph):
    filed = ApiClient(zeph).post("/api/cmr/me/erasure").json()
    url = f"/api/cmr/erasure-requests/{filed['id']}/refuse"
    assert ApiClient(alice).post(url, {"reason": ""}).status_code == 422
    assert ApiClient(alice).post(url, {"reason": "x", "extra": 1}).status_code == 422
    refused = ApiClient(alice).post(url, {"reason": "A court order keeps it."})
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    mine = ApiClient(zeph).get("/api/cmr/me/erasure").json()["items"]
    assert mine[0]["reason"] == "A court order keeps it."


def test_staff_without_the_role_cannot_erase(bob, vic, zeph, dora):
    url = f"/api/people/{zeph.person.public_id}/erasure"
    assert ApiClient(bob).post(url).status_code == 403
    assert ApiClient(vic).post(url).status_code == 403
    assert ApiClient(dora).post(url).status_code == 404
    web = client_for(bob).post(f"/cmr/people/{zeph.person.public_id}/erasure/", {"confirm": "yes"})
    assert web.status_code == 403
    filed = ApiClient(zeph).post("/api/cmr/me/erasure").json()
    assert (
        ApiClient(bob).post(f"/api/cmr/erasure-requests/{filed['id']}/process").status_code == 403
    )
    assert (
        ApiClient(dora).post(f"/api/cmr/erasure-requests/{filed['id']}/process").status_code == 404
    )
    assert Party.objects.get(pk=zeph.person.pk).status == Party.Status.ACTIVE


def test_a_customer_reaches_only_their_own_requests(zeph, dora):
    filed = ApiClient(zeph).post("/api/cmr/me/erasure").json()
    assert ApiClient(dora).get("/api/cmr/me/erasure").json()["items"] == []
    assert (
        ApiClient(dora).get(f"/api/people/{zeph.person.public_id}/erasure-requests").status_code
        == 404
    )
    assert filed["status"] == "pending"


def test_the_staff_page_erases_with_confirmation(alice, zeph):
    web = client_for(alice)
    page = web.get(f"/people/{zeph.person.public_id}/")
    assert b"Erase this person" in page.content
    unconfirmed = web.post(f"/cmr/people/{zeph.person.public_id}/erasure/")
    assert unconfirmed.status_code == 422
    done = web.post(f"/cmr/people/{zeph.person.public_id}/erasure/", {"confirm": "yes"})
    assert done.status_code == 302
    assert Party.objects.get(pk=zeph.person.pk).status == Party.Status.ERASED


def test_sent_mail_in_memory_is_scrubbed_too(alice, zeph):
    mail.send_mail("Hi", f"Hello {NAME}", None, [EMAIL])
    mail.send_mail("Other", "Nothing here", None, ["someone@example.com"])
    assert erasure.scrub_sent_mail([NAME, EMAIL]) == 1
    assert [m.subject for m in mail.outbox] == ["Other"]
