"""Bulk actions on the people list: ticked rows or everything matching the filters,
through the same services as single edits; refusals reported per record."""

from __future__ import annotations

from django.contrib.messages import get_messages

from kith.core.models import AuditEntry
from kith.people.models import Party
from tests.conftest import client_for, make_person


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_add_and_remove_a_tag_on_ticked_rows(alice):
    people = [make_person(alice, given=f"P{i}", family="Bulk") for i in range(3)]
    client = client_for(alice)
    ids = [str(p.public_id) for p in people[:2]]
    r = client.post(
        "/people/bulk/", {"kind": "person", "action": "add_tag", "bulk_tag": "VIP", "ids": ids}
    )
    assert r.status_code == 302 and r["Location"] == "/people/"
    assert "Tag added to 2 records." in _messages(r)
    tagged = set(Party.objects.filter(tags__name="VIP").values_list("pk", flat=True))
    assert tagged == {people[0].pk, people[1].pk}
    assert AuditEntry.objects.filter(party_id=people[0].pk, action__endswith="updated").exists()
    client.post(
        "/people/bulk/", {"kind": "person", "action": "remove_tag", "bulk_tag": "vip", "ids": ids}
    )
    assert not Party.objects.filter(tags__name="VIP").exists()


def test_everything_matching_the_filters(alice):
    for i in range(120):
        make_person(alice, given=f"Match{i}", family="Sameson")
    make_person(alice, given="Other", family="Person")
    r = client_for(alice).post(
        "/people/bulk/",
        {
            "kind": "person",
            "action": "add_tag",
            "bulk_tag": "Campaign",
            "scope": "matching",
            "q": "Sameson",
        },
    )
    assert "Tag added to 120 records." in _messages(r)
    assert Party.objects.filter(tags__name="Campaign").count() == 120


def test_assign_owner_checks_each_hand_over_and_reports_refusals(alice, bob, dan, vic):
    mine = make_person(bob, given="Bobs", family="Own", owner=bob)
    hidden = make_person(dan, given="Dans", family="Secret", owner=dan, visibility="private")
    client = client_for(bob)
    r = client.post(
        "/people/bulk/",
        {
            "kind": "person",
            "action": "assign_owner",
            "bulk_owner": "bob",
            "ids": [str(mine.public_id), str(hidden.public_id)],
        },
    )
    # dan's private person is not even selectable for bob: silently out of the selection.
    assert "Owner changed on 1 record." in _messages(r)
    hidden.refresh_from_db()
    assert hidden.owner == dan
    # A viewer cannot act at all; an unknown owner is a named error.
    assert (
        client_for(vic)
        .post(
            "/people/bulk/",
            {"kind": "person", "action": "add_tag", "bulk_tag": "x", "ids": [str(mine.public_id)]},
        )
        .status_code
        == 403
    )
    r = client.post(
        "/people/bulk/",
        {
            "kind": "person",
            "action": "assign_owner",
            "bulk_owner": "nobody",
            "ids": [str(mine.public_id)],
        },
    )
    assert "No active user called nobody." in _messages(r)


def test_delete_is_for_managers_and_export_streams_the_selection(alice, bob):
    people = [make_person(alice, given=f"Gone{i}", family="Soon") for i in range(2)]
    ids = [str(p.public_id) for p in people]
    assert (
        client_for(bob)
        .post("/people/bulk/", {"kind": "person", "action": "delete", "ids": ids})
        .status_code
        == 403
    )
    export = client_for(bob).post(
        "/people/bulk/", {"kind": "person", "action": "export", "ids": ids}
    )
    body = b"".join(export.streaming_content).decode()
    assert export.status_code == 200 and "Gone0" in body and "Gone1" in body
    r = client_for(alice).post("/people/bulk/", {"kind": "person", "action": "delete", "ids": ids})
    assert "Deleted 2 records." in _messages(r)
    assert not Party.objects.filter(pk__in=[p.pk for p in people]).exists()


def test_bad_bulk_input_is_a_message_not_a_500(alice):
    person = make_person(alice)
    client = client_for(alice)
    for data, expected in (
        ({"action": "add_tag", "bulk_tag": "x"}, "Select at least one record."),
        (
            {"action": "add_tag", "bulk_tag": "x", "ids": ["not-a-uuid"]},
            "Not a record id: not-a-uuid",
        ),
        ({"action": "explode", "ids": [str(person.public_id)]}, "Choose an action."),
        ({"action": "add_tag", "bulk_tag": " ", "ids": [str(person.public_id)]}, "Give the tag."),
    ):
        r = client.post("/people/bulk/", {"kind": "person", **data})
        assert r.status_code == 302 and expected in _messages(r), data


def test_the_list_shows_a_count_and_checkboxes(alice, vic):
    make_person(alice, given="Ana", family="Lima")
    body = client_for(alice).get("/people/").content.decode()
    assert (
        'data-testid="list-count">1<' in body
        and "data-bulk-row" in body
        and 'id="bulk-form"' in body
    )
    assert "data-bulk-row" not in client_for(vic).get("/people/").content.decode()
