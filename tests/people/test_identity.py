"""Identity resolution: features, training (and its fallback), stored suggestions with
per-field weights, rejections remembered across retrains, merges as accepted labels,
cross-channel matching (linked with evidence, never on the name alone), and the API.

Trained on a few hundred generated people so the module stays fast."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.people.identity import features, service, synthetic
from kith.people.identity.models import IdentityKey, IdentityModel, MatchSuggestion
from kith.people.models import ContactPoint, Party, Relationship, RoleType
from tests.conftest import client_for, make_person

# ---------------------------------------------------------------- features (no database)


def test_postal_address_is_split_into_parts():
    parts = features.parse_postal("44 Forbes Street, Wintersloe, Kellerberrin 4510 VIC")
    assert parts == {
        "street_number": "44",
        "street": "forbes street",
        "locality": "kellerberrin",
        "postcode": "4510",
    }
    assert features.parse_postal("")["street"] == ""


def test_row_folds_nicknames_accents_and_handles_named_in_a_signature():
    row = features.to_row(
        features.PersonRecord(
            id="1",
            given_name="Bill",
            family_name="Müller-Smith",
            emails=["Bill.M@Example.org"],
            websites=["mastodon.social/@billms"],
            evidence_text="--\nBill\nFind me at @bill_ms on the fediverse",
        )
    )
    assert row["given_canon"] == "william"
    assert row["family_name"] == "mullersmith"
    assert row["email_users"] == ["billm"]
    assert row["seen_handles"] == ["bill_ms", "billms"]
    assert row["birthday"] is None and row["phones"] is None


def test_a_social_account_with_only_a_display_name_gets_name_parts():
    row = features.to_row(features.PersonRecord(id="2", display_name="Ana María Lima"))
    assert (row["given_name"], row["family_name"]) == ("ana", "lima")


# ---------------------------------------------------------------- database fixtures


def _insert(records: list[features.PersonRecord]) -> dict[str, Party]:
    """Generated records as people; a contact point already taken is skipped, as Kith's
    uniqueness rule would refuse it."""
    employer_role, _ = RoleType.objects.get_or_create(
        slug="employee", defaults={"name": "Employee"}
    )
    orgs: dict[str, Party] = {}
    out: dict[str, Party] = {}
    taken: set[tuple[str, str]] = set()
    for rec in records:
        given = rec.given_name or features.split_display_name(rec.display_name)[0].title()
        family = rec.family_name or features.split_display_name(rec.display_name)[1].title()
        party = Party.objects.create(
            kind="person",
            given_name=given,
            family_name=family,
            birthday=rec.birthday,
            notes=rec.evidence_text,
        )
        points = [("email", e) for e in rec.emails] + [("phone", p) for p in rec.phones]
        points += [("mastodon", h) for h in rec.handles] + [("postal", a) for a in rec.postal]
        for channel, value in points:
            key = (channel, value.casefold())
            if key in taken and channel != "postal":
                continue
            taken.add(key)
            ContactPoint.objects.create(
                party=party, channel=channel, value=value, normalized=value.casefold()
            )
        for name in rec.organisations:
            if name not in orgs:
                orgs[name] = Party.objects.create(kind="organization", display_name=name)
            Relationship.objects.create(subject=party, role=employer_role, object=orgs[name])
        out[rec.id] = party
    return out


@pytest.fixture
def generated(db):
    gen = synthetic.generate(180, dup_rate=0.3, cross_channel=8, lookalikes=8, seed=5)
    return gen, _insert(gen.records)


# ---------------------------------------------------------------- training and suggestions


def test_too_few_people_falls_back_to_the_exact_rules(db, alice):
    make_person(given="Ana", family="Lima", email="ana@example.org")
    run = service.request_training(actor=alice)
    run.refresh_from_db()
    assert run.status == "done" and run.fallback
    assert "too few to learn from" in run.message
    assert service.active_model() is None
    twin = make_person(given="Ana", family="Lima")
    # The exact rules still answer (close name), without a model.
    found = service.suggestions_for(twin, scope=Party.objects.all())
    assert [c.source for c in found] == ["rules"]


def test_a_table_without_duplicates_trains_and_suggests_nothing(db, alice):
    """No deterministic duplicate gives an estimated prior of 0: training must not fail."""
    gen = synthetic.generate(80, dup_rate=0.0, cross_channel=0, lookalikes=0, seed=11)
    _insert(gen.records)
    run = service.request_training(actor=alice)
    run.refresh_from_db()
    assert run.status == "done", run.message
    assert not run.fallback and run.model["probability_two_random_records_match"] > 0


def test_training_stores_suggestions_with_weights_and_rejections_are_remembered(generated, alice):
    gen, parties = generated
    run = service.request_training(actor=alice)
    run.refresh_from_db()
    assert run.status == "done", run.message
    assert not run.fallback and run.record_count == len(parties)
    assert run.model["comparisons"] and run.suggestion_count > 20
    # Training also stores everyone's blocking keys, through which new people find them.
    assert run.keys_version == features.KEYS_VERSION
    assert set(IdentityKey.objects.values_list("party_id", flat=True)) == {
        p.pk for p in parties.values()
    }

    by_pk = {p.pk: rid for rid, p in parties.items()}
    truth = gen.true_pairs()
    open_rows = list(MatchSuggestion.objects.filter(status="open"))
    found = {frozenset((by_pk[s.left_id], by_pk[s.right_id])) for s in open_rows}
    precision = len(found & truth) / len(found)
    recall = len(found & truth) / len(truth)
    assert precision >= 0.9 and recall >= 0.75, (precision, recall)
    # Each suggestion says why, field by field, with signed weights.
    best = open_rows[0]
    assert best.reasons and {"field", "label", "level", "weight"} <= set(best.reasons[0])
    assert any(r["weight"] > 0 for r in best.reasons)
    # Never on the name alone: a lookalike (same name, another employer, no shared
    # contact) is not suggested.
    lookalikes = {rid for rid, ent in gen.entity.items() if ent.startswith("look")}
    assert not any(pair & lookalikes for pair in found)

    # Reject one: remembered, and not suggested again after a retrain.
    rejected = open_rows[0]
    left, right = rejected.left, rejected.right
    service.reject(actor=alice, a=right, b=left)
    assert MatchSuggestion.objects.get(pk=rejected.pk).status == "rejected"
    assert right.pk not in {
        c.party.pk for c in service.suggestions_for(left, scope=Party.objects.all())
    }
    again = service.request_training(actor=alice)
    again.refresh_from_db()
    assert again.status == "done" and again.labelled_non_matches == 1
    assert MatchSuggestion.objects.get(left=left, right=right).status == "rejected"
    assert right.pk not in {
        c.party.pk for c in service.suggestions_for(left, scope=Party.objects.all())
    }

    # Accepting is merging: the suggestion becomes an accepted label.
    from kith.people import merging

    accept = MatchSuggestion.objects.filter(status="open").first()
    merging.merge(actor=alice, keep=accept.left, absorb=accept.right)
    assert MatchSuggestion.objects.get(pk=accept.pk).status == "accepted"


@pytest.fixture(scope="session")
def trained_json() -> dict:
    """One model trained on generated people (no database), shared by the tests."""
    from kith.people.identity import model as engine

    gen = synthetic.generate(150, seed=9)
    return engine.train([features.to_row(r) for r in gen.records])


def test_cross_channel_link_needs_evidence_not_just_the_name(db, trained_json):
    IdentityModel.objects.create(status="done", model=trained_json)
    acme = Party.objects.create(kind="organization", display_name="Acme Ltd")
    role, _ = RoleType.objects.get_or_create(slug="employee", defaults={"name": "Employee"})
    ana = Party.objects.create(
        kind="person",
        given_name="Ana",
        family_name="Lima",
        attributes={"signature": "Ana Lima · Acme · @analima_dev"},
    )
    ContactPoint.objects.create(
        party=ana, channel="email", value="ana@acme.example", normalized="ana@acme.example"
    )
    Relationship.objects.create(subject=ana, role=role, object=acme)
    # The social account: handle and display name, and it says where it works.
    with_evidence = service.match_candidates(
        name="Ana Lima", handle="@analima_dev", organisation="Acme Ltd"
    )
    assert with_evidence and with_evidence[0].party == ana
    assert with_evidence[0].probability >= 0.9
    assert any(r["field"] == "handle" and r["weight"] > 0 for r in with_evidence[0].reasons)
    # The same name with a handle nobody mentioned and no organisation: not a match.
    name_only = service.match_candidates(name="Ana Lima", handle="@someone_else")
    assert all(c.probability < 0.5 for c in name_only)


# ---------------------------------------------------------------- API and pages


def test_api_lists_matches_with_reasons_and_rejects(db, alice, bob, api_as):
    ana = make_person(given="Ana", family="Lima", email="ana@example.org")
    twin = make_person(given="Ana", family="Lima", birthday=dt.date(1990, 1, 2))
    low, high = sorted((ana, twin), key=lambda p: p.pk)
    MatchSuggestion.objects.create(
        left=low,
        right=high,
        probability=0.97,
        match_weight=9.1,
        reasons=[{"field": "family_name", "label": "Last name", "level": "same", "weight": 7.2}],
    )
    client = api_as(alice)
    response = client.get(f"/api/parties/{ana.public_id}/identity-matches")
    assert response.status_code == 200
    [match] = response.json()
    assert match["id"] == str(twin.public_id) and match["probability"] == 0.97
    assert match["reasons"][0]["label"] == "Last name"

    bad = client.post(
        f"/api/parties/{ana.public_id}/identity-matches/reject",
        data={"other": "not-a-uuid"},
    )
    assert bad.status_code == 422 and "other" in bad.content.decode()
    same = client.post(
        f"/api/parties/{ana.public_id}/identity-matches/reject",
        data={"other": str(ana.public_id)},
    )
    assert same.status_code == 422 and "other" in same.content.decode()
    ok = client.post(
        f"/api/parties/{ana.public_id}/identity-matches/reject",
        data={"other": str(twin.public_id)},
    )
    assert ok.status_code == 200 and ok.json()["status"] == "rejected"
    assert client.get(f"/api/parties/{ana.public_id}/identity-matches").json() == [] or all(
        m["id"] != str(twin.public_id)
        for m in client.get(f"/api/parties/{ana.public_id}/identity-matches").json()
    )

    # Training is for managers; the latest run is readable by staff.
    assert api_as(bob).post("/api/identity/models").status_code == 403
    assert client.get("/api/identity/models/latest").status_code == 404


def test_person_page_shows_weights_and_a_not_the_same_button(db, alice):
    ana = make_person(given="Ana", family="Lima")
    twin = make_person(given="Anna", family="Lima")
    low, high = sorted((ana, twin), key=lambda p: p.pk)
    MatchSuggestion.objects.create(
        left=low,
        right=high,
        probability=0.93,
        match_weight=8.0,
        reasons=[
            {"field": "family_name", "label": "Last name", "level": "same", "weight": 7.2},
            {"field": "birthday", "label": "Date of birth", "level": "different", "weight": -3.1},
        ],
    )
    page = client_for(alice).get(f"/people/{ana.public_id}/").content.decode()
    assert "Why we think these are the same" in page and "-3.1" in page and "93% likely" in page
    response = client_for(alice).post(f"/parties/{ana.public_id}/not-duplicate/{twin.public_id}/")
    assert response.status_code == 302
    assert MatchSuggestion.objects.get(left=low, right=high).status == "rejected"
    page = client_for(alice).get(f"/people/{ana.public_id}/").content.decode()
    assert "Why we think these are the same" not in page


def test_cli_trains_and_reports_status(db):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("identity", "status", stdout=out)
    assert "No identity model" in out.getvalue()
    make_person(given="Ana", family="Lima")
    out = StringIO()
    call_command("identity", "train", stdout=out)
    assert "done: 1 people" in out.getvalue() and "too few to learn from" in out.getvalue()
    out = StringIO()
    call_command("identity", "train", "--queue", stdout=out)
    assert "Queued identity training" in out.getvalue()
