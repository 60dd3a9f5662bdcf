"""Undoing a merge: both records come back as they were — fields, tags, contact points,
roles (including the one folded into a twin), history, generic references — within a
window, once, and on the timeline of both."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.core.errors import Conflict
from kith.interactions import services as interaction_services
from kith.interactions.models import Interaction
from kith.people import merging, services
from kith.people.models import ContactPoint, MergeRecord, Party, Relationship
from kith.people.services import PartyInput
from kith.work import services as work_services
from kith.work.models import Activity, ActivityType
from tests.conftest import client_for, make_org, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(alice):
    acme = make_org(alice, "Acme")
    keep = make_person(alice, given="John", family="Smith", email="john@acme.com", title="CTO")
    absorb = make_person(
        alice, given="Jon", family="Smith", email="jsmith@gmail.com", phone="+44 20 7946 0958"
    )
    services.update_party(
        actor=alice, party=absorb, data=PartyInput(tags=["vip"], fields={"locale": "en-GB"})
    )
    # Both customers of Acme: the merge folds the two roles into one; undo splits them again.
    services.add_relationship(
        actor=alice, subject=absorb, role="customer", object=acme, valid_from=dt.date(2022, 1, 1)
    )
    services.add_relationship(
        actor=alice, subject=keep, role="customer", object=acme, valid_from=dt.date(2023, 1, 1)
    )
    interaction_services.log_interaction(
        actor=alice, party=absorb, channel="email", summary="Asked about pricing"
    )
    activity = work_services.create_activity(
        actor=alice, type=ActivityType.objects.get(slug="call"), summary="Call Jon", record=absorb
    )
    return {"keep": keep, "absorb": absorb, "acme": acme, "activity": activity}


def _state(party: Party) -> dict:
    party.refresh_from_db()
    return {
        "status": party.status,
        "given_name": party.given_name,
        "locale": party.locale,
        "title": party.title,
        "tags": sorted(t.name for t in party.tags.all()),
        "emails": sorted(ContactPoint.objects.filter(party=party).values_list("value", flat=True)),
        "roles": sorted(
            (r.role.slug, str(r.valid_from))
            for r in Relationship.objects.filter(subject=party).select_related("role")
        ),
        "history": sorted(
            Interaction.objects.filter(party=party)
            .exclude(kind__startswith="merge")
            .values_list("summary", flat=True)
        ),
    }


def test_undo_restores_both_records_and_their_timelines(alice, pair):
    keep, absorb = pair["keep"], pair["absorb"]
    before = {"keep": _state(keep), "absorb": _state(absorb)}
    merging.merge(actor=alice, keep=keep, absorb=absorb, choices={"given_name": "absorb"})
    merged = _state(keep)
    assert merged["given_name"] == "Jon" and "vip" in merged["tags"]
    assert len([r for r in merged["roles"] if r[0] == "customer"]) == 1  # folded
    assert Activity.objects.get(pk=pair["activity"].pk).record_id == keep.pk  # generic ref moved

    record = MergeRecord.objects.get(keep=keep, absorb=absorb)
    merging.undo_merge(actor=alice, record=record)
    assert _state(keep) == before["keep"]
    assert _state(absorb) == before["absorb"]
    assert Activity.objects.get(pk=pair["activity"].pk).record_id == absorb.pk
    # The merge and its undo are on the timelines.
    assert Interaction.objects.filter(party=keep, kind="merge").exists()
    assert Interaction.objects.filter(party=keep, kind="merge_undone").exists()
    assert Interaction.objects.filter(party=absorb, kind="merge_undone").exists()
    # Once only.
    with pytest.raises(Conflict):
        merging.undo_merge(actor=alice, record=record)


def test_rows_added_after_the_merge_stay_with_the_survivor(alice, pair):
    keep, absorb = pair["keep"], pair["absorb"]
    merging.merge(actor=alice, keep=keep, absorb=absorb)
    interaction_services.log_interaction(actor=alice, party=keep, channel="call", summary="After")
    merging.undo_merge(actor=alice, record=MergeRecord.objects.get(keep=keep))
    assert Interaction.objects.filter(party=keep, summary="After").exists()
    assert Interaction.objects.filter(party=absorb, summary="Asked about pricing").exists()


def test_the_window_and_a_later_merge_refuse_an_undo(alice, pair, settings):
    keep, absorb = pair["keep"], pair["absorb"]
    merging.merge(actor=alice, keep=keep, absorb=absorb)
    record = MergeRecord.objects.get(keep=keep)
    MergeRecord.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - dt.timedelta(days=15)
    )
    assert merging.latest_undoable(keep) is None
    with pytest.raises(Conflict):
        merging.undo_merge(actor=alice, record=MergeRecord.objects.get(pk=record.pk))
    # The survivor merged away since: undo that one first.
    MergeRecord.objects.filter(pk=record.pk).update(created_at=timezone.now())
    third = make_person(alice, given="Johnny", family="Smith")
    merging.merge(actor=alice, keep=third, absorb=keep)
    with pytest.raises(Conflict):
        merging.undo_merge(actor=alice, record=MergeRecord.objects.get(pk=record.pk))


def test_undo_from_the_person_page(alice, bob, vic, pair):
    keep, absorb = pair["keep"], pair["absorb"]
    merging.merge(actor=alice, keep=keep, absorb=absorb)
    record = MergeRecord.objects.get(keep=keep)
    page = client_for(alice).get(f"/people/{keep.public_id}/").content.decode()
    assert "Undo merge" in page and f"/merges/{record.public_id}/undo/" in page
    assert "Undo merge" not in client_for(vic).get(f"/people/{keep.public_id}/").content.decode()
    assert client_for(vic).post(f"/merges/{record.public_id}/undo/").status_code == 403
    response = client_for(alice).post(f"/merges/{record.public_id}/undo/")
    assert response.status_code == 302 and response["Location"] == f"/people/{absorb.public_id}/"
    absorb.refresh_from_db()
    assert absorb.status == Party.Status.ACTIVE
    assert client_for(alice).post(f"/merges/{record.public_id}/undo/").status_code == 409


def test_the_merge_screen_keeps_the_richer_record_by_default(alice, pair):
    keep, absorb = pair["keep"], pair["absorb"]
    # absorb has more: a phone, a tag, history. Opening the merge the other way round swaps.
    response = client_for(alice).get(f"/people/{keep.public_id}/merge/{absorb.public_id}/")
    assert response.status_code == 302
    assert response["Location"] == f"/people/{absorb.public_id}/merge/{keep.public_id}/?as=chosen"
    chosen = client_for(alice).get(f"/people/{keep.public_id}/merge/{absorb.public_id}/?as=chosen")
    assert chosen.status_code == 200


def test_undo_needs_sight_of_the_absorbed_record_too(alice, bob):
    """bob may change the survivor but not see the private record an admin merged into
    it: undoing would bring that record back and name it to him, so it is a 404."""
    keep = make_person(bob, given="Public", family="Keep", owner=bob)
    hidden = make_person(alice, given="Private", family="Absorbed", owner=alice)
    Party.objects.filter(pk=hidden.pk).update(visibility="private")
    merging.merge(actor=alice, keep=keep, absorb=Party.objects.get(pk=hidden.pk))
    record = MergeRecord.objects.get(keep=keep)
    response = client_for(bob).post(f"/merges/{record.public_id}/undo/")
    assert response.status_code == 404
    assert "Private Absorbed" not in response.content.decode()
    assert Party.objects.get(pk=hidden.pk).status == Party.Status.MERGED
