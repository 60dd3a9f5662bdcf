"""Follows: one per (record, follower) even under concurrent requests; automatic follows;
event-type choices and mute; merges move follows, mentions and memberships."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction

from kith.accounts import services as account_services
from kith.accounts.models import User
from kith.collab import services
from kith.collab.models import Follow, Membership, Mention, Notification, Post
from kith.people import merging
from kith.people.models import Party
from tests.concurrency import require_postgres, run_together
from tests.conftest import PASSWORD, make_person

pytestmark = pytest.mark.django_db


def _follows(target, user=None):
    ct = ContentType.objects.get_for_model(target)
    qs = Follow.objects.filter(target_type=ct, target_id=target.pk)
    return qs.filter(follower=user) if user else qs


def test_follow_is_unique_and_idempotent(alice, bob):
    ana = make_person(alice, given="Ana", family="Lima")
    first, created = services.follow(actor=bob, target=ana)
    again, created_again = services.follow(actor=bob, target=ana)
    assert created and not created_again and first.pk == again.pk
    assert _follows(ana, bob).count() == 1
    assert first.is_external is False


def test_database_constraint_rejects_a_second_row(alice, bob):
    ana = make_person(alice, given="Ana", family="Lima")
    services.follow(actor=bob, target=ana)
    ct = ContentType.objects.get_for_model(ana)
    with pytest.raises(IntegrityError), transaction.atomic():
        Follow.objects.create(target_type=ct, target_id=ana.pk, follower=bob)


def test_losing_a_race_returns_the_winners_row(alice, bob, monkeypatch):
    """Simulated race: the existence check misses, the insert hits the constraint."""
    ana = make_person(alice, given="Ana", family="Lima")
    winner, _ = services.follow(actor=bob, target=ana)
    real_filter = Follow.objects.filter
    calls = {"n": 0}

    class Blind:
        def first(self):
            return None

    def filter_once_blind(*args, **kwargs):
        calls["n"] += 1
        return Blind() if calls["n"] == 1 else real_filter(*args, **kwargs)

    monkeypatch.setattr(Follow.objects, "filter", filter_once_blind)
    row, created = services.follow(actor=bob, target=ana)
    assert not created and row.pk == winner.pk
    monkeypatch.undo()
    assert _follows(ana, bob).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_seed")
def test_concurrent_follows_make_one_row():
    require_postgres()  # the simulated race above covers the code path on SQLite
    owner = account_services.create_user(
        actor=None, username="owner", password=PASSWORD, role="admin"
    )
    bob = account_services.create_user(actor=None, username="bob2", password=PASSWORD)
    ana = make_person(owner, given="Ana", family="Lima")
    results, errors = run_together(lambda _: services.follow(actor=bob, target=ana), range(8))
    assert not errors
    assert _follows(ana, bob).count() == 1
    assert sum(1 for _, created in results if created) == 1
    assert len({row.pk for row, _ in results}) == 1


def test_creating_a_record_follows_it(alice, bob, deliver):
    ana = make_person(alice, given="Ana", family="Lima", owner=bob)
    deliver()
    assert _follows(ana, alice).filter(reason="auto").exists()  # the creator
    assert _follows(ana, bob).filter(reason="auto").exists()  # the owner


def test_following_requires_seeing_the_record(alice, bob, dan):
    secret = make_person(bob, given="Sec", family="Ret", owner=bob, visibility="private")
    from kith.core.errors import NotFound

    with pytest.raises(NotFound):
        services.follow(actor=dan, target=secret)


def test_event_types_and_mute_decide_notifications(alice, bob, dan):
    ana = make_person(alice, given="Ana", family="Lima")
    row, _ = services.follow(actor=bob, target=ana, event_types=["comment"])
    services.follow(actor=dan, target=ana)
    services.create_post(actor=alice, target=ana, body="A post")
    assert not Notification.objects.filter(user=bob).exists()  # wants comments only
    assert Notification.objects.filter(user=dan, verb="post").count() == 1
    services.mute(actor=dan, target=ana)
    services.create_post(actor=alice, target=ana, body="Another post")
    assert Notification.objects.filter(user=dan).count() == 1  # muted now
    post = Post.objects.filter(body_markdown="A post").get()
    services.create_comment(actor=alice, post=post, body="A comment")
    assert Notification.objects.filter(user=bob, verb="comment").count() == 1
    assert row.event_types == ["comment"]


def test_portal_follower_is_external(alice, mia, carol):
    ana = make_person(alice, given="Ana", family="Lima")
    row, _ = services.follow(actor=mia, target=ana, follower=carol)
    assert row.is_external


def test_merge_moves_follows_mentions_and_memberships(alice, bob, dan, carol, carol_person):
    keep = make_person(alice, given="Ana", family="Lima")
    absorb = make_person(alice, given="Anna", family="Lima")
    services.follow(actor=bob, target=keep)
    services.follow(actor=bob, target=absorb)  # both: one follow must remain
    services.follow(actor=dan, target=absorb)
    post = services.create_post(
        actor=alice, target=absorb, body=f"Met @[Anna](person:{absorb.public_id})"
    )
    services.create_comment(actor=alice, post=post, body=f"and @[Ana](person:{keep.public_id}) too")
    merging.merge(actor=alice, keep=keep, absorb=absorb)
    assert _follows(absorb).count() == 0
    assert set(_follows(keep).values_list("follower__username", flat=True)) >= {"bob", "dan"}
    assert _follows(keep, bob).count() == 1
    post.refresh_from_db()
    assert post.target_id == keep.pk
    assert Mention.objects.filter(party=absorb).count() == 0
    assert Mention.objects.filter(party=keep).count() == 2  # one in the post, one in the comment


def test_merge_keeps_a_portal_users_group_membership_with_the_person(alice, carol, carol_person):
    group = services.create_group(actor=alice, name="Club", kind="customer")
    services.invite(actor=alice, group=group, user=carol)
    services.respond_invitation(actor=carol, group=group, accept=True)
    survivor = make_person(alice, given="Carol", family="C.")
    merging.merge(actor=alice, keep=survivor, absorb=carol_person)
    carol = User.objects.get(pk=carol.pk)
    assert carol.person_id == survivor.pk
    member = Membership.objects.get(group=group, user=carol)
    assert member.user.person == survivor
    assert Party.objects.get(pk=carol_person.pk).status == "merged"
