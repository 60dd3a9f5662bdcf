"""My data export: the model-graph test (every model with a path to a person is
exported or excluded with a reason), the versioned JSON Schema, vCard, access."""

from __future__ import annotations

import json
from decimal import Decimal

import jsonschema_rs
import pytest
import vobject
from django.apps import apps

from kith.cmr import export, queries, receipts, registry, services
from kith.collab import services as collab_services
from kith.core.models import AuditEntry
from kith.interactions import services as interaction_services
from kith.people.models import Party
from kith.service import services as service_services
from tests.conftest import ApiClient, client_for

FRAMEWORK_APPS = {"auth", "contenttypes", "sessions", "admin"}


def models_with_a_path_to_party() -> set[str]:
    """Every model that reaches Party through a chain of foreign keys (any depth)."""
    candidates = [m for m in apps.get_models() if m._meta.app_label not in FRAMEWORK_APPS]
    reach = {Party}
    grew = True
    while grew:
        grew = False
        for model in candidates:
            if model in reach:
                continue
            if any(
                f.is_relation and f.concrete and f.related_model in reach
                for f in model._meta.get_fields()
            ):
                reach.add(model)
                grew = True
    return {m._meta.label for m in reach}


def test_every_model_with_a_path_to_a_person_is_exported_or_excluded():
    missing = sorted(
        label
        for label in models_with_a_path_to_party()
        if label not in registry.EXPORTS and label not in registry.EXCLUDED
    )
    assert not missing, (
        "Models with a path to a person that the export neither covers nor excludes; "
        "register them in kith.cmr.registry (register_export with the lookups to the "
        f"person, or register_excluded with a reason): {missing}"
    )


def test_registry_names_real_models_and_reasons():
    for label in [*registry.EXPORTS, *registry.EXCLUDED]:
        apps.get_model(label)  # raises LookupError for a typo or a removed model
    assert all(reason.strip() for reason in registry.EXCLUDED.values())
    assert not set(registry.EXPORTS) & set(registry.EXCLUDED)


@pytest.fixture
def carol_data(alice, carol, dora):
    person = carol.person
    services.set_consent(
        actor=carol, person=person, purpose="marketing_email", granted=True, source="portal"
    )
    interaction_services.log_interaction(
        actor=alice, party=person, channel="call", summary="Asked about kettles"
    )
    interaction_services.log_interaction(
        actor=alice, party=dora.person, channel="call", summary="Dora's own call"
    )
    interaction_services.record_transaction(
        actor=alice, party=person, kind="order", amount="19.90", currency="EUR"
    )
    service_services.create_case(
        actor=alice,
        data=service_services.CaseInput(subject="Kettle leaks", requester=person),
    )
    collab_services.notify(user=carol, verb="system", text="Your case moved", url="")
    return person


def test_export_holds_the_persons_rows_only_and_matches_the_schema(alice, carol_data):
    document = export.build(carol_data)
    validator = jsonschema_rs.validator_for(queries.export_schema())
    errors = [e.message for e in validator.iter_errors(json.loads(json.dumps(document)))]
    assert not errors
    sections = document["sections"]
    assert set(sections) == set(registry.EXPORTS)
    assert [r["summary"] for r in sections["interactions.Interaction"]] == ["Asked about kettles"]
    amounts = [Decimal(r["amount"]) for r in sections["interactions.Transaction"]]
    assert amounts == [Decimal("19.90")]
    assert [r["subject"] for r in sections["service.Case"]] == ["Kettle leaks"]
    assert [r["text"] for r in sections["collab.Notification"]] == ["Your case moved"]
    assert [r["value"] for r in sections["people.ContactPoint"]] == ["carol@example.com"]
    assert sections["people.Party"][0]["public_id"] == str(carol_data.public_id)
    # Foreign keys are public ids, never internal ones.
    assert sections["interactions.Interaction"][0]["party"] == str(carol_data.public_id)
    # Secrets never leave: no password hash of her login.
    assert sections["accounts.User"] and "password" not in sections["accounts.User"][0]
    receipt = sections["cmr.ConsentReceipt"][0]
    assert receipts.verify(receipt["jws"])["consentReceiptID"] == receipt["public_id"]
    assert document["excluded"]["accounts.ApiToken"]
    assert "Dora's own call" not in json.dumps(document)


def test_export_api_for_customer_and_staff_is_audited_and_scoped(alice, carol, dora, carol_data):
    mine = ApiClient(carol).get("/api/cmr/me/export")
    assert mine.status_code == 200
    assert mine.json()["person"] == str(carol_data.public_id)
    assert AuditEntry.objects.filter(action="person.exported", party_id=carol_data.pk).count() == 1
    staff = ApiClient(alice).get(f"/api/people/{carol_data.public_id}/export")
    assert staff.status_code == 200
    assert staff.json()["sections"]["service.Case"][0]["subject"] == "Kettle leaks"
    # A customer reaches no one else's export.
    assert ApiClient(dora).get(f"/api/people/{carol_data.public_id}/export").status_code == 404
    assert ApiClient(carol).get("/api/cmr/export-schema").json()["$id"] == export.SCHEMA_ID


def test_vcard_and_web_downloads(carol_data, carol):
    web = client_for(carol)
    page = web.get("/cmr/my/")
    assert page.status_code == 200
    assert b"interactions.Interaction" in page.content
    card = web.get("/cmr/my/card.vcf")
    assert card["Content-Type"].startswith("text/vcard")
    parsed = vobject.readOne(card.content.decode())
    assert parsed.fn.value == "Carol Customer"
    assert parsed.email.value == "carol@example.com"
    assert parsed.uid.value == f"urn:uuid:{carol_data.public_id}"
    data = web.get("/cmr/my/export.json")
    assert data.status_code == 200
    assert json.loads(data.content)["person"] == str(carol_data.public_id)
    api_card = ApiClient(carol).get("/api/cmr/me/vcard")
    assert api_card.status_code == 200 and b"BEGIN:VCARD" in api_card.content
