"""Merging: the preview shows conflicts, nothing is lost, and the old id still resolves."""

import datetime as dt
from decimal import Decimal

import pytest

from kith.accounts import services as account_services
from kith.accounts.models import User
from kith.core.models import AuditEntry
from kith.interactions import services as interaction_services
from kith.interactions.models import Interaction, Transaction
from kith.people import merging, services
from kith.people.models import ContactPoint, Party, Relationship
from kith.people.services import ContactInput, PartyInput
from tests.conftest import make_org, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(alice):
    acme = make_org(alice, "Acme")
    keep = make_person(alice, given="John", family="Smith", email="john@acme.com", title="CTO")
    absorb = make_person(
        alice,
        given="Jon",
        family="Smith",
        email="jsmith@gmail.com",
        phone="+44 20 7946 0958",
        title="Chief Technology Officer",
    )
    absorb = services.update_party(
        actor=alice,
        party=absorb,
        data=PartyInput(fields={"locale": "en-GB"}, tags=["vip"], interests=["golf"]),
    )
    services.add_relationship(
        actor=alice, subject=absorb, role="customer", object=acme, valid_from=dt.date(2022, 1, 1)
    )
    services.add_relationship(
        actor=alice, subject=keep, role="customer", object=acme, valid_from=dt.date(2023, 1, 1)
    )
    services.add_relationship(actor=alice, subject=absorb, role="advocate")
    peer = make_person(alice, given="Peer", family="Person")
    services.add_relationship(actor=alice, subject=peer, role="partner", object=absorb)
    interaction_services.log_interaction(
        actor=alice, party=absorb, channel="email", summary="Asked about pricing"
    )
    interaction_services.record_transaction(
        actor=alice, party=absorb, kind="order", amount="99.50", currency="EUR"
    )
    return {"keep": keep, "absorb": absorb, "acme": acme, "peer": peer}


def test_preview_lists_conflicts_and_what_moves(pair):
    plan = merging.preview(keep=pair["keep"], absorb=pair["absorb"])
    assert [c.field for c in plan.conflicts] == ["given_name", "title"]
    locale = next(f for f in plan.fields if f.field == "locale")
    assert locale.default == "absorb" and not locale.conflict  # empty on keep: filled from absorb
    assert plan.result["tags"] == ["vip"]
    assert plan.moves  # contact points, relationships, interactions, transactions
    assert not plan.blockers


def test_merge_moves_everything_and_applies_choices(pair, alice):
    keep, absorb = pair["keep"], pair["absorb"]
    audit_before = AuditEntry.objects.filter(party_id=absorb.pk).count()
    survivor = merging.merge(actor=alice, keep=keep, absorb=absorb, choices={"title": "absorb"})
    absorb.refresh_from_db()
    assert survivor.pk == keep.pk
    assert survivor.title == "Chief Technology Officer"
    assert survivor.given_name == "John"  # default keeps the survivor's value
    assert survivor.locale == "en-GB"
    assert absorb.status == Party.Status.MERGED and absorb.merged_into_id == keep.pk
    assert set(ContactPoint.objects.filter(party=keep).values_list("normalized", flat=True)) == {
        "john@acme.com",
        "jsmith@gmail.com",
        "+442079460958",
    }
    assert ContactPoint.objects.filter(party=keep, channel="email", primary=True).count() == 1
    # The two overlapping customer periods become one spanning both.
    customer = Relationship.objects.get(subject=keep, role__slug="customer")
    assert customer.valid_from == dt.date(2022, 1, 1)
    assert Relationship.objects.filter(subject=keep, role__slug="advocate").exists()
    assert Relationship.objects.get(subject=pair["peer"]).object_id == keep.pk
    assert Interaction.objects.filter(party=keep, summary="Asked about pricing").exists()
    assert Transaction.objects.get(party=keep).amount == Decimal("99.50")
    assert not Interaction.objects.filter(party=absorb).exists()
    assert not Relationship.objects.filter(subject=absorb).exists()
    assert {t.name for t in keep.tags.all()} == {"vip"}
    assert survivor.interests == ["golf"]
    assert AuditEntry.objects.filter(party_id=absorb.pk).count() == 0
    assert AuditEntry.objects.filter(party_id=keep.pk).count() > audit_before


def test_merged_id_still_resolves(pair, alice, api_as):
    merging.merge(actor=alice, keep=pair["keep"], absorb=pair["absorb"])
    api = api_as(alice)
    r = api.get(f"/api/people/{pair['absorb'].public_id}")
    assert r.status_code == 308
    assert r.json()["merged_into"] == str(pair["keep"].public_id)
    assert r["Location"].endswith(f"/api/people/{pair['keep'].public_id}")
    # Following the redirect lands on the survivor.
    assert api.get(r["Location"]).json()["display_name"] == "John Smith"


def test_chains_of_merges_resolve_to_the_last_survivor(pair, alice, api_as):
    third = make_person(alice, given="Johnny", family="Smith")
    merging.merge(actor=alice, keep=pair["keep"], absorb=pair["absorb"])
    merging.merge(actor=alice, keep=third, absorb=pair["keep"])
    r = api_as(alice).get(f"/api/people/{pair['absorb'].public_id}")
    assert r.status_code == 308 and r.json()["merged_into"] == str(third.public_id)


def test_merge_via_api_with_preview(pair, alice, api_as):
    api = api_as(alice)
    keep, absorb = pair["keep"], pair["absorb"]
    preview = api.get(
        f"/api/parties/{keep.public_id}/merge-preview", absorb=str(absorb.public_id)
    ).json()
    assert set(preview["conflicts"]) == {"given_name", "title"}
    r = api.post(
        f"/api/parties/{keep.public_id}/merge",
        {"absorb": str(absorb.public_id), "choices": {"given_name": "absorb"}},
    )
    assert r.status_code == 200, r.content
    assert r.json()["given_name"] == "Jon"
    assert len(r.json()["contact_points"]) == 3


def test_merge_moves_the_login(pair, alice):
    user = account_services.create_user(
        actor=alice,
        username="jon",
        password="correct-horse-battery",
        kind=User.Kind.PORTAL,
        person=pair["absorb"],
    )
    merging.merge(actor=alice, keep=pair["keep"], absorb=pair["absorb"])
    user.refresh_from_db()
    assert user.person_id == pair["keep"].pk


def test_blocked_merges(pair, alice, api_as):
    api = api_as(alice)
    keep = pair["keep"]
    r = api.post(f"/api/parties/{keep.public_id}/merge", {"absorb": str(pair["acme"].public_id)})
    assert r.status_code == 422
    r = api.post(f"/api/parties/{keep.public_id}/merge", {"absorb": str(keep.public_id)})
    assert r.status_code == 422
    r = api.post(
        f"/api/parties/{keep.public_id}/merge",
        {"absorb": str(pair["absorb"].public_id), "choices": {"nonsense": "keep"}},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "choices.nonsense"
    assert (
        Party.objects.get(pk=pair["absorb"].pk).status == Party.Status.ACTIVE
    )  # nothing half-done


def test_duplicate_suggestions(alice, api_as):
    a = make_person(alice, given="John", family="Smith", email="john@example.com")
    make_person(alice, given="Jon", family="Smith")
    make_person(alice, given="Mary", family="Jones")
    b = services.create_party(
        actor=alice,
        data=PartyInput(
            fields={"given_name": "J.", "family_name": "Smith-Other"},
            contact_points=[ContactInput("email", "other@example.com")],
        ),
    )
    found = api_as(alice).get(f"/api/parties/{a.public_id}/duplicates").json()
    assert [d["display_name"] for d in found] == ["Jon Smith"]
    suggestions = merging.suggest_duplicates(
        scope=Party.objects.all(), name="Someone Else", contacts=[("email", "other@example.com")]
    )
    assert [s.party.pk for s in suggestions] == [b.pk]
    assert suggestions[0].reason.startswith("same email")
