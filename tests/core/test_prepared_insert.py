"""Prepared inserts write what ``save``/``bulk_create`` wrote: the same columns, the
ids handed back, ``auto_now`` stamps, defaults, and Django's errors on a clash."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from kith.core import events
from kith.core.models import OutboxEvent
from kith.core.prepared import insert_many, insert_one
from kith.people.models import ContactPoint, Party, Tag

pytestmark = pytest.mark.django_db


def _columns(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_insert_one_saves_as_save_does(alice):
    party = Party(kind=Party.Kind.PERSON, given_name="Ana", family_name="Lima", owner=alice)
    party.insert()
    assert party.pk and not party._state.adding
    assert party.display_name == "Ana Lima" and party.sort_name == "ana lima"
    assert party.created_at is not None and party.updated_at is not None
    assert _columns(Party.objects.get(pk=party.pk)) == _columns(party)

    saved = Party(kind=Party.Kind.PERSON, given_name="Ana", family_name="Lima", owner=alice)
    saved.save()
    mine, theirs = _columns(party), _columns(saved)
    for key in ("id", "public_id", "created_at", "updated_at"):
        mine.pop(key), theirs.pop(key)
    assert mine == theirs


def test_insert_one_refuses_an_unsaved_related_object():
    with pytest.raises(ValueError):
        insert_one(ContactPoint(party=Party(kind=Party.Kind.PERSON), channel="email", value="x"))


def test_insert_many_hands_back_each_rows_own_id(alice):
    party = Party(kind=Party.Kind.PERSON, given_name="Ana")
    party.insert()
    points = [
        ContactPoint(party=party, channel="email", value=f"a{i}@x.org", normalized=f"a{i}@x.org")
        for i in range(7)
    ]
    insert_many(points)
    for point in points:
        assert ContactPoint.objects.get(pk=point.pk).normalized == point.normalized
        assert _columns(ContactPoint.objects.get(pk=point.pk)) == _columns(point)


def test_insert_many_without_ids_and_clashes_raise_integrity_error(alice):
    party = Party(kind=Party.Kind.PERSON, given_name="Ana")
    party.insert()
    tags = [Tag.objects.create(name="a"), Tag.objects.create(name="b")]
    through = Party.tags.through
    insert_many([through(party_id=party.pk, tag_id=t.pk) for t in tags], ids=False)
    assert sorted(t.name for t in party.tags.all()) == ["a", "b"]
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_many([through(party_id=party.pk, tag_id=tags[0].pk)], ids=False)
    point = ContactPoint(party=party, channel="email", value="a@x.org", normalized="a@x.org")
    insert_many([point])
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_many(
            [ContactPoint(party=party, channel="email", value="a@x.org", normalized="a@x.org")]
        )


def test_insert_many_can_skip_rows_a_unique_constraint_holds(alice):
    party = Party(kind=Party.Kind.PERSON, given_name="Ana")
    party.insert()
    tags = [Tag.objects.create(name=name) for name in ("a", "b", "c")]
    through = Party.tags.through
    insert_many([through(party_id=party.pk, tag_id=tags[0].pk)], ids=False)
    # one clash among new rows: the clash is skipped, the others stored, no error
    insert_many(
        [through(party_id=party.pk, tag_id=t.pk) for t in tags], ids=False, ignore_conflicts=True
    )
    assert sorted(t.name for t in party.tags.all()) == ["a", "b", "c"]
    with pytest.raises(TypeError):
        insert_many([Tag(name="d")], ignore_conflicts=True)  # ids wanted, none for a skip


def test_an_emitted_event_is_the_row_stored(alice):
    party = Party(kind=Party.Kind.PERSON, given_name="Ana")
    party.insert()
    event = events.emit("person.created", obj=party, actor=alice, data={"display_name": "Ana"})
    stored = OutboxEvent.objects.get(pk=event.pk)
    assert _columns(stored) == _columns(event)
    assert stored.data == {"display_name": "Ana"} and stored.object_public_id == party.public_id
