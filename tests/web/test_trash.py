"""The trash over HTTP: the API (list, restore, purge) and the staff pages (list with a
kind filter, restore, the "Deleted — Undo" message after a delete), with the access
matrix: admins and managers see every item, agents their own deletions and only restore
what they could delete, customers never reach it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.accounts.models import Role
from kith.core.models import TrashItem
from kith.people.models import ContactPoint, Party
from kith.sales import services as sales_services
from kith.sales.models import Deal
from kith.work import services as work_services
from kith.work.models import Activity, ActivityType
from tests.conftest import client_for, make_org, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(alice):
    return make_person(alice, given="Ana", family="Lima", email="ana@example.com")


def _delete_person(api, party) -> TrashItem:
    assert api.delete(f"/api/people/{party.public_id}").status_code == 204
    return TrashItem.objects.get(object_public_id=party.public_id)


def test_api_list_restore_and_purge(api_as, alice, ana):
    api = api_as(alice)
    pk = ana.pk
    item = _delete_person(api, ana)
    listed = api.get("/api/trash").json()["items"]
    assert [i["id"] for i in listed] == [str(item.public_id)]
    assert listed[0]["kind"] == "person" and listed[0]["label"] == "Ana Lima"
    assert listed[0]["deleted_by"] == "alice" and listed[0]["rows"] >= 2
    assert api.get("/api/trash", kind="deal").json()["items"] == []
    bad = api.get("/api/trash", kind="spaceship")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "kind"

    restored = api.post(f"/api/trash/{item.public_id}/restore")
    assert restored.status_code == 200, restored.content
    assert restored.json()["id"] == str(ana.public_id)
    assert restored.json()["url"] == f"/people/{ana.public_id}/"
    assert Party.objects.filter(pk=pk).exists()
    assert ContactPoint.objects.filter(party_id=pk, value="ana@example.com").exists()
    assert api.get(f"/api/people/{ana.public_id}").status_code == 200
    # Once restored it has left the trash.
    assert api.post(f"/api/trash/{item.public_id}/restore").status_code == 404

    again = _delete_person(api, ana)
    assert api.delete(f"/api/trash/{again.public_id}").status_code == 204
    assert not TrashItem.objects.filter(pk=again.pk).exists()


def test_api_conflict_is_409_and_writes_nothing(api_as, alice, ana):
    api = api_as(alice)
    pk = ana.pk
    item = _delete_person(api, ana)
    make_person(alice, given="Ana", family="Other", email="ana@example.com")
    response = api.post(f"/api/trash/{item.public_id}/restore")
    assert response.status_code == 409
    assert "ana@example.com" in response.json()["detail"]
    assert not Party.objects.filter(pk=pk).exists()
    assert TrashItem.objects.filter(pk=item.pk).exists()


def test_api_expired_is_410(api_as, alice, ana):
    api = api_as(alice)
    item = _delete_person(api, ana)
    TrashItem.objects.filter(pk=item.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    assert api.post(f"/api/trash/{item.public_id}/restore").status_code == 410


def test_access_matrix(api_as, alice, mia, bob, dan, carol, ana):
    # Alice (admin) deletes a person: managers see it, agents and customers do not.
    item = _delete_person(api_as(alice), ana)
    assert len(api_as(mia).get("/api/trash").json()["items"]) == 1
    assert api_as(bob).get("/api/trash").json()["items"] == []
    assert api_as(bob).post(f"/api/trash/{item.public_id}/restore").status_code == 404
    assert api_as(carol).get("/api/trash").status_code == 404
    assert api_as(carol).post(f"/api/trash/{item.public_id}/restore").status_code == 404
    assert api_as(carol).delete(f"/api/trash/{item.public_id}").status_code == 404
    # Purging is for admins: a manager may restore but not purge.
    assert api_as(mia).delete(f"/api/trash/{item.public_id}").status_code == 403

    # Bob deletes his own activity: he sees it and restores it; Dan does not see it.
    activity = work_services.create_activity(
        actor=bob, type=ActivityType.objects.get(slug="call"), summary="Call Bea"
    )
    assert api_as(bob).delete(f"/api/activities/{activity.public_id}").status_code == 204
    bobs = api_as(bob).get("/api/trash").json()["items"]
    assert [i["label"] for i in bobs] == ["Call Bea"]
    assert api_as(dan).get("/api/trash").json()["items"] == []
    assert api_as(dan).post(f"/api/trash/{bobs[0]['id']}/restore").status_code == 404
    assert api_as(bob).post(f"/api/trash/{bobs[0]['id']}/restore").status_code == 200
    assert Activity.objects.filter(public_id=activity.public_id).exists()


def test_agent_who_may_no_longer_delete_cannot_restore(api_as, alice, bob):
    """The kind's own delete check runs on the restored row; its refusal undoes it all."""
    org = make_org(bob, "Bobco")
    deal = sales_services.create_deal(
        actor=bob, data={"title": "Bob's deal", "owner": bob, "organization": org}
    )
    api = api_as(bob)
    assert api.delete(f"/api/deals/{deal.public_id}").status_code == 204
    item = TrashItem.objects.get(kind="deal")
    bob.role = Role.VIEWER
    bob.save(update_fields=["role"])
    response = api_as(bob).post(f"/api/trash/{item.public_id}/restore")
    assert response.status_code in (403, 404)
    assert not Deal.objects.filter(public_id=deal.public_id).exists()
    assert TrashItem.objects.filter(pk=item.pk).exists()


def test_pages_delete_undo_and_trash(alice, ana):
    client = client_for(alice)
    page = client.get(f"/people/{ana.public_id}/").content.decode()
    assert 'data-testid="delete-party"' in page
    response = client.post(f"/parties/{ana.public_id}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == "/people/"
    html = response.content.decode()
    item = TrashItem.objects.get(kind="person")
    assert "Ana Lima deleted." in html and f"/trash/{item.public_id}/restore/" in html

    trash_page = client.get("/trash/").content.decode()
    assert "Ana Lima" in trash_page and "Restore" in trash_page and "Delete for good" in trash_page
    assert "Ana Lima" not in client.get("/trash/?kind=deal").content.decode()

    restored = client.post(f"/trash/{item.public_id}/restore/", follow=True)
    assert restored.redirect_chain[-1][0] == f"/people/{ana.public_id}/"
    html = restored.content.decode()
    assert "restored." in html and "Restored from the trash" in html and "Deleted by alice" in html


def test_deal_page_delete_offers_undo(alice):
    deal = sales_services.create_deal(
        actor=alice, data={"title": "Zephyr renewal", "organization": make_org(alice, "Zephyr")}
    )
    client = client_for(alice)
    response = client.post(f"/sales/deals/{deal.public_id}/delete/", follow=True)
    html = response.content.decode()
    assert "Deal “Zephyr renewal” deleted." in html and 'data-testid="undo-delete"' in html


def test_pages_access(bob, carol, vic, alice, ana):
    item = _delete_via_service(alice, ana)
    assert "Ana Lima" not in client_for(bob).get("/trash/").content.decode()
    assert client_for(bob).post(f"/trash/{item.public_id}/restore/").status_code == 404
    assert client_for(bob).post(f"/trash/{item.public_id}/purge/").status_code == 404
    # A customer is sent to their own pages, never shown the trash.
    assert client_for(carol).get("/trash/").status_code == 302
    assert client_for(carol).post(f"/trash/{item.public_id}/restore/").status_code == 302
    assert Party.objects.filter(public_id=ana.public_id).count() == 0
    # A viewer (read-only) and an agent cannot delete from the person page.
    bea = make_person(alice, given="Bea", family="Souza")
    assert client_for(vic).post(f"/parties/{bea.public_id}/delete/").status_code == 403
    assert client_for(bob).post(f"/parties/{bea.public_id}/delete/").status_code == 403
    assert Party.objects.filter(pk=bea.pk).exists()
    assert (
        'data-testid="delete-party"'
        not in client_for(bob).get(f"/people/{bea.public_id}/").content.decode()
    )


def _delete_via_service(actor, party) -> TrashItem:
    from kith.people import services as people_services

    return people_services.delete_party(actor=actor, party=party)


def test_bulk_delete_points_to_the_trash(alice):
    people = [make_person(alice, given=f"Gone{i}", family="Soon") for i in range(2)]
    ids = [str(p.public_id) for p in people]
    client = client_for(alice)
    response = client.post(
        "/people/bulk/", {"kind": "person", "action": "delete", "ids": ids}, follow=True
    )
    html = response.content.decode()
    assert "Deleted 2 records." in html and 'href="/trash/"' in html
    assert sorted(TrashItem.objects.values_list("label", flat=True)) == ["Gone0 Soon", "Gone1 Soon"]
