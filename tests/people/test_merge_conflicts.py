"""A write naming a merged record answers 409 naming the survivor; reads keep the 308.

A 308 after a POST invites a client to send the same request again to the survivor,
which may not be the change that was meant (a merge, an edit, a delete).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from kith.core.errors import MergedConflict
from kith.people import merging
from kith.people.models import Party
from tests.conftest import login, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def merged(alice):
    keep = make_person(alice, given="John", family="Smith")
    absorb = make_person(alice, given="Jon", family="Smith")
    merging.merge(actor=alice, keep=keep, absorb=absorb)
    return keep, absorb


def _assert_names_survivor(r, keep: Party) -> None:
    assert r.status_code == 409, r.content
    body = r.json()
    assert body["code"] == "merged"
    assert body["merged_into"] == str(keep.public_id)
    assert str(keep.public_id) in body["detail"]
    assert "Location" not in r


def test_a_merge_naming_an_absorbed_record_is_a_conflict(merged, alice, api_as):
    keep, absorb = merged
    other = make_person(alice, given="Joe", family="Smith")
    api = api_as(alice)
    # The absorbed id as the record to keep, and as the record to absorb.
    _assert_names_survivor(
        api.post(f"/api/parties/{absorb.public_id}/merge", {"absorb": str(other.public_id)}), keep
    )
    _assert_names_survivor(
        api.post(f"/api/parties/{other.public_id}/merge", {"absorb": str(absorb.public_id)}), keep
    )
    assert Party.objects.get(pk=other.pk).status == Party.Status.ACTIVE


def test_other_writes_to_an_absorbed_id_are_conflicts_and_reads_redirect(merged, alice, api_as):
    keep, absorb = merged
    api = api_as(alice)
    _assert_names_survivor(
        api.patch(f"/api/people/{absorb.public_id}", {"given_name": "Changed"}), keep
    )
    _assert_names_survivor(api.delete(f"/api/people/{absorb.public_id}"), keep)
    keep.refresh_from_db()
    assert keep.given_name == "John" and keep.status == Party.Status.ACTIVE
    r = api.get(f"/api/people/{absorb.public_id}")
    assert r.status_code == 308 and r.json()["merged_into"] == str(keep.public_id)


def test_a_form_sent_to_an_absorbed_record_changes_nothing(merged, alice):
    keep, absorb = merged
    client = login(alice)
    r = client.post(
        f"/people/{absorb.public_id}/edit/", {"given_name": "Changed", "family_name": "X"}
    )
    assert r.status_code == 302 and r["Location"] == f"/people/{keep.public_id}/"
    page = client.get(r["Location"]).content.decode()
    assert "nothing was changed" in page
    keep.refresh_from_db()
    assert keep.given_name == "John"


def test_the_merge_service_names_the_survivor_when_it_lost_a_race(merged, alice):
    keep, absorb = merged
    other = make_person(alice, given="Joe", family="Smith")
    with pytest.raises(MergedConflict) as caught:
        # ``absorb`` as loaded before the merge committed: a request that lost the race.
        merging.merge(actor=alice, keep=other, absorb=Party(pk=absorb.pk))
    assert caught.value.new_public_id == str(keep.public_id)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_opposite_merges_at_once_make_one_merge_and_one_conflict(alice):
    if connection.vendor != "postgresql":
        pytest.skip(
            "SKIPPED ON SQLITE: real concurrent writers need PostgreSQL (SQLite "
            "serialises writers); the race's outcome is covered by the test above."
        )
    a = make_person(alice, given="Ann", family="Pair")
    b = make_person(alice, given="Anne", family="Pair")
    barrier = threading.Barrier(2)
    outcomes: list = []

    def run(keep: Party, absorb: Party) -> None:
        try:
            barrier.wait(timeout=30)
            outcomes.append(merging.merge(actor=alice, keep=keep, absorb=absorb))
        except BaseException as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in ((a, b), (b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if isinstance(o, Party)]
    losers = [o for o in outcomes if not isinstance(o, Party)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1 and isinstance(losers[0], MergedConflict), outcomes
    assert losers[0].new_public_id == str(winners[0].public_id)
    statuses = sorted(Party.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True))
    assert statuses == ["active", "merged"]
