"""Groups (privacy, kinds, invitations, membership) and notifications (in-app, digests)."""

import pytest
from django.core import mail
from django.core.management import call_command

from kith.collab import services
from kith.collab.models import Membership, Notification
from kith.core.errors import Forbidden, ValidationFailed
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


def test_group_kinds_limit_who_can_be_invited(alice, bob, carol, pat):
    internal = services.create_group(actor=alice, name="Staff only", kind="internal")
    partners = services.create_group(actor=alice, name="Partners", kind="partner")
    with pytest.raises(ValidationFailed):
        services.invite(actor=alice, group=internal, user=carol)
    with pytest.raises(ValidationFailed):
        services.invite(actor=alice, group=partners, user=carol)  # a customer, not a partner
    services.invite(actor=alice, group=partners, user=pat)
    services.invite(actor=alice, group=internal, user=bob)


def test_invitation_accept_and_decline(alice, bob, dan, api_as):
    group = services.create_group(actor=alice, name="Secret", privacy="private")
    with pytest.raises(Forbidden):
        services.join_group(actor=bob, group=group)
    assert api_as(bob).get(f"/api/groups/{group.public_id}").status_code == 404
    res = api_as(alice).post(f"/api/groups/{group.public_id}/invitations", {"username": "bob"})
    assert res.status_code == 201 and res.json()["status"] == "invited"
    assert Notification.objects.filter(user=bob, verb="invitation").exists()
    assert api_as(bob).get(f"/api/groups/{group.public_id}").status_code == 200
    res = api_as(bob).post(f"/api/groups/{group.public_id}/invitation", {"accept": True})
    assert res.json()["status"] == "active"
    services.invite(actor=alice, group=group, user=dan)
    services.respond_invitation(actor=dan, group=group, accept=False)
    assert Membership.objects.get(group=group, user=dan).status == "declined"
    members = api_as(alice).get(f"/api/groups/{group.public_id}/members").json()["items"]
    assert {m["user"]["username"]: m["status"] for m in members} == {
        "alice": "active",
        "bob": "active",
        "dan": "declined",
    }


def test_privacy_listing(alice, bob):
    public = services.create_group(actor=alice, name="Open", privacy="public")
    unlisted = services.create_group(actor=alice, name="Hidden", privacy="unlisted")
    private = services.create_group(actor=alice, name="Closed", privacy="private")
    from kith.collab import access

    listed = set(access.scope_groups(bob).values_list("name", flat=True))
    assert listed == {"Open"}
    assert access.can_see_group(bob, unlisted) and not access.can_see_group(bob, private)
    services.join_group(actor=bob, group=unlisted)
    assert set(access.scope_groups(bob).values_list("name", flat=True)) == {"Open", "Hidden"}
    assert public.slug == "open"


def test_only_group_admins_manage_members(alice, bob, dan):
    group = services.create_group(actor=alice, name="Team")
    services.join_group(actor=bob, group=group)
    services.join_group(actor=dan, group=group)
    with pytest.raises(Forbidden):
        services.leave_group(actor=bob, group=group, user=dan)
    services.set_member_role(actor=alice, group=group, user=bob, role="admin")
    services.leave_group(actor=bob, group=group, user=dan)
    assert not Membership.objects.filter(group=group, user=dan).exists()


def test_group_posts_notify_members_and_leaving_forgets_them(alice, bob):
    group = services.create_group(actor=alice, name="Team")
    services.join_group(actor=bob, group=group)
    services.create_post(actor=alice, target=group, body="Hello team")
    assert Notification.objects.filter(user=bob, verb="post").count() == 1
    from kith.collab import queries

    assert len(queries.my_feed(bob).items) == 1
    services.leave_group(actor=bob, group=group)
    assert len(queries.my_feed(bob).items) == 0


def test_unread_count_and_mark_read(alice, bob, api_as):
    ana = make_person(alice, given="Ana", family="Lima")
    for i in range(3):
        services.create_post(actor=alice, target=ana, body=f"@bob number {i}")
    client = api_as(bob)
    assert client.get("/api/notifications/unread-count").json() == {"unread": 3}
    first = client.get("/api/notifications").json()["items"][0]
    res = client.post("/api/notifications/read", {"ids": [first["id"]]})
    assert res.json() == {"marked": 1, "unread": 2}
    assert client.post("/api/notifications/read", {}).json()["unread"] == 0


def test_daily_digest_by_management_command(alice, bob, dan, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    bob.email, dan.email = "bob@example.com", "dan@example.com"
    bob.save(), dan.save()
    services.set_email_digest(actor=dan, mode="off")
    ana = make_person(alice, given="Ana", family="Lima")
    services.create_post(actor=alice, target=ana, body="@bob and @dan, news")
    services.create_post(actor=alice, target=ana, body="@bob more news")
    call_command("send_digests")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["bob@example.com"] and "2 new notifications" in message.subject
    assert "more news" in message.body
    call_command("send_digests")
    assert len(mail.outbox) == 1  # nothing new: nothing sent


def test_the_worker_sends_daily_digests(alice, bob, settings):
    from django.core.cache import cache

    from kith.core import worker

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    bob.email = "bob@example.com"
    bob.save()
    ana = make_person(alice, given="Ana", family="Lima")
    services.create_post(actor=alice, target=ana, body="@bob news")
    cache.delete("kith:periodic:collab.daily_digests")
    assert "collab.daily_digests" in worker.run_due_jobs()
    assert [m.to for m in mail.outbox] == [["bob@example.com"]]


def test_immediate_mail(alice, bob, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    bob.email = "bob@example.com"
    bob.save()
    services.set_email_digest(actor=bob, mode="immediate")
    ana = make_person(alice, given="Ana", family="Lima")
    with django_capture_on_commit_callbacks(execute=True):
        services.create_post(actor=alice, target=ana, body="@bob urgent")
    assert len(mail.outbox) == 1 and "urgent" in mail.outbox[0].body
    assert Notification.objects.get(user=bob).emailed_at is not None


def test_settings_api(bob, api_as):
    client = api_as(bob)
    assert client.get("/api/notifications/settings").json() == {"email_digest": "daily"}
    assert client.patch("/api/notifications/settings", {"email_digest": "off"}).status_code == 200
    assert (
        client.patch("/api/notifications/settings", {"email_digest": "hourly"}).status_code == 422
    )
