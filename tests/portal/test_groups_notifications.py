"""My groups and my notifications in the portal, and their live updates."""

from __future__ import annotations

import pytest

from kith.collab import live
from kith.collab import services as collab_services
from kith.service import services
from tests.conftest import client_for


@pytest.fixture
def club(alice, carol):
    group = collab_services.create_group(
        actor=alice, name="Power users", privacy="private", kind="customer"
    )
    collab_services.invite(actor=alice, group=group, user=carol)
    collab_services.respond_invitation(actor=carol, group=group, accept=True)
    collab_services.create_post(actor=alice, target=group, body="Welcome, **everyone**!")
    return group


def test_my_groups_lists_and_shows_posts(carol, club):
    client = client_for(carol)
    assert "Power users" in client.get("/portal/groups/").content.decode()
    page = client.get(f"/portal/groups/{club.public_id}/")
    assert page.status_code == 200
    assert "Welcome, <strong>everyone</strong>!" in page.content.decode()


def test_a_private_group_is_404_to_non_members(olga, club):
    client = client_for(olga)
    assert "Power users" not in client.get("/portal/groups/").content.decode()
    assert client.get(f"/portal/groups/{club.public_id}/").status_code == 404


def test_a_staff_reply_notifies_the_customer_live(carol, alice, django_capture_on_commit_callbacks):
    case = services.open_case_as_customer(actor=carol, subject="Slow", body="Very slow")
    subscription = live.get_broker().subscribe([live.user_channel(carol.pk)])
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.add_message(actor=alice, case=case, kind="reply", body="Fixed now.")
        message = subscription.get(timeout=1)
    finally:
        subscription.close()
    assert message is not None and message["type"] == "notification" and message["unread"] == 1
    # The list the page re-fetches when that event arrives has the new row.
    fragment = client_for(carol).get("/portal/notifications/list/").content.decode()
    assert f"/portal/cases/{case.public_id}/" in fragment
    assert "replied on your case" in fragment


def test_internal_notes_do_not_notify_the_customer(carol, alice):
    case = services.open_case_as_customer(actor=carol, subject="Slow", body="Very slow")
    services.add_message(actor=alice, case=case, kind="note", body="hush")
    assert client_for(carol).get("/api/portal/notifications").json()["unread"] == 0


def test_mark_all_read_from_the_page(carol):
    collab_services.notify(user=carol, verb="system", text="Hello")
    client = client_for(carol)
    assert client.post("/portal/notifications/").status_code == 302
    assert client.get("/api/portal/notifications").json()["unread"] == 0
    assert client.post("/portal/notifications/", {"id": "nope"}).status_code == 422


def test_a_member_posts_in_the_group(carol, club):
    client = client_for(carol)
    assert (
        client.post(f"/portal/groups/{club.public_id}/post/", {"body": "Hi *all*"}).status_code
        == 302
    )
    page = client.get(f"/portal/groups/{club.public_id}/").content.decode()
    assert "Hi <em>all</em>" in page
    assert client.post(f"/portal/groups/{club.public_id}/post/", {"body": "  "}).status_code == 302
    assert (
        "This field is required."
        in client.get(f"/portal/groups/{club.public_id}/").content.decode()
    )


def test_a_non_member_cannot_post(olga, club):
    from kith.collab.models import Post

    before = Post.objects.count()
    assert (
        client_for(olga).post(f"/portal/groups/{club.public_id}/post/", {"body": "x"}).status_code
        == 404
    )
    assert Post.objects.count() == before


def test_the_case_thread_fragment_follows_the_case_rules(carol, olga, alice):
    case = services.open_case_as_customer(actor=carol, subject="Slow", body="Very slow")
    services.add_message(actor=alice, case=case, kind="reply", body="Public answer")
    services.add_message(actor=alice, case=case, kind="note", body="Private note")
    fragment = client_for(carol).get(f"/portal/cases/{case.public_id}/thread/").content.decode()
    assert "Public answer" in fragment and "Private note" not in fragment
    assert client_for(olga).get(f"/portal/cases/{case.public_id}/thread/").status_code == 404
