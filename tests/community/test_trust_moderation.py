"""Trust levels (promotion, demotion, privileges, rate limits), badges and moderation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.community import queries, services
from kith.community.models import (
    BadgeAward,
    Flag,
    MemberProfile,
    Post,
    PostRead,
    PostRevision,
    Topic,
    Visit,
)
from kith.core.errors import Forbidden, Throttled, ValidationFailed
from kith.core.worker import periodic_jobs
from tests.community.conftest import make_trusted, portal_user


def _activity(user, *, days: int, reads: int, topic: Topic, ago: int = 0) -> None:
    today = timezone.now().date() - dt.timedelta(days=ago)
    Visit.objects.bulk_create(
        [Visit(user=user, day=today - dt.timedelta(days=i)) for i in range(days)]
    )
    posts = [
        services._new_post(topic=topic, kind=Post.Kind.ANSWER, author=None, body=f"p{i}")
        for i in range(reads)
    ]
    when = timezone.now() - dt.timedelta(days=ago)
    PostRead.objects.bulk_create([PostRead(user=user, post=p, created_at=when) for p in posts])


def test_promotion_demotion_and_privileges(public_space, alice, carol, cyd):
    topic = services.create_topic(actor=alice, space=public_space, title="Reading", body="Read me")
    answer = services.reply(actor=cyd, topic=topic, body="Something to vote on")
    profile = services.ensure_profile(carol)
    MemberProfile.objects.filter(pk=profile.pk).update(reputation=500)
    _activity(carol, days=3, reads=12, topic=topic)
    assert services.recompute_trust_level(user=carol) == (0, 1)
    services.vote(actor=carol, post=answer, value=1)  # TL1 may vote up
    services.retract_vote(actor=carol, post=answer)
    # The activity ages out of the window: the worker demotes her.
    Visit.objects.filter(user=carol).delete()
    Visit.objects.create(user=carol, day=timezone.now().date() - dt.timedelta(days=300))
    PostRead.objects.filter(user=carol).update(created_at=timezone.now() - dt.timedelta(days=300))
    services.recompute_trust_levels()
    assert MemberProfile.objects.get(user=carol).trust_level == 0
    with pytest.raises(Forbidden):
        services.vote(actor=carol, post=answer, value=1)


def test_periodic_job_is_registered():
    assert "community.trust_levels" in periodic_jobs()


def test_trust_level_2_earns_a_badge(public_space, alice, carol):
    topic = services.create_topic(actor=alice, space=public_space, title="Lots", body="to read")
    _activity(carol, days=12, reads=60, topic=topic)
    helper = portal_user("helper")
    make_trusted(helper)
    for i in range(3):
        t = services.create_topic(actor=alice, space=public_space, title=f"Q{i}", body="q")
        services.reply(actor=carol, topic=t, body=f"my answer {i}")
    mine = Post.objects.filter(author=carol, kind=Post.Kind.ANSWER).first()
    services.vote(actor=helper, post=mine, value=1)
    other = services.reply(actor=helper, topic=topic, body="helper's answer")
    services.ensure_profile(carol)
    MemberProfile.objects.filter(user=carol).update(reputation=100)
    carol._community_profile = None
    del carol._community_profile
    services.recompute_trust_level(user=carol)  # TL1 first (vote needs TL1)
    services.vote(actor=carol, post=other, value=1)
    assert services.recompute_trust_level(user=carol)[1] == 2
    slugs = set(BadgeAward.objects.filter(user=carol).values_list("badge__slug", flat=True))
    assert {"first-answer", "trusted"} <= slugs


def test_new_members_post_no_links_and_few_posts(public_space, cyd):
    with pytest.raises(ValidationFailed) as exc:
        services.create_topic(
            actor=cyd, space=public_space, title="Cheap", body="Buy at https://spam.example"
        )
    assert exc.value.errors[0].field == "body"
    for i in range(3):
        services.create_topic(actor=cyd, space=public_space, title=f"Q{i}", body="question")
    with pytest.raises(Throttled):
        services.create_topic(actor=cyd, space=public_space, title="Q4", body="one more")


def test_spam_heuristic_holds_new_account_with_links(public_space, cyd, carol, alice):
    make_trusted(cyd, level=1)
    topic = services.create_topic(
        actor=cyd, space=public_space, title="Deal", body="See https://a.example and www.b.example"
    )
    topic.refresh_from_db()
    assert topic.hidden_at is not None
    assert Flag.objects.filter(post__topic=topic, flagger__isnull=True, reason="spam").exists()
    # Hidden from others, visible to its author and in the moderation queue.
    assert not queries.space_topics(carol, public_space).items
    assert queries.space_topics(cyd, public_space).items
    assert [p.topic_id for p in queries.moderation_queue(alice)] == [topic.pk]


def test_enough_trusted_flags_hide_a_post_until_review(public_space, alice, cyd):
    make_trusted(cyd)
    topic = services.create_topic(actor=alice, space=public_space, title="Q", body="q")
    bad = services.reply(actor=cyd, topic=topic, body="rude answer")
    flaggers = [portal_user(f"f{i}") for i in range(3)]
    untrusted = portal_user("newbie")
    make_trusted(untrusted, level=1, reputation=100)
    services.flag_post(actor=untrusted, post=bad, reason="offensive")
    for i, user in enumerate(flaggers):
        make_trusted(user)
        services.flag_post(actor=user, post=bad, reason="offensive")
        bad.refresh_from_db()
        assert (bad.hidden_at is not None) == (i == 2)
    services.resolve_flags(actor=alice, post=bad, remove=True)
    bad.refresh_from_db()
    assert bad.deleted_at is not None
    assert services.reputation_from_ledger(cyd) == public_space.point("post_flagged_removed")
    assert not Flag.objects.filter(post=bad, outcome="pending").exists()


def test_flag_needs_privilege(public_space, alice, cyd):
    topic = services.create_topic(actor=alice, space=public_space, title="Q", body="q")
    with pytest.raises(Forbidden):
        services.flag_post(actor=cyd, post=topic.posts.get(), reason="spam")


def test_edit_history_and_edit_others_privilege(public_space, carol, cyd, alice):
    make_trusted(cyd, level=1, reputation=10)
    topic = services.create_topic(actor=carol, space=public_space, title="Old", body="old body")
    question = topic.posts.get()
    services.edit_post(actor=carol, post=question, body="new body", title="New title")
    topic.refresh_from_db()
    assert topic.title == "New title"
    rev = PostRevision.objects.get(post=question)
    assert (rev.title, rev.body) == ("Old", "old body")
    with pytest.raises(Forbidden):
        services.edit_post(actor=cyd, post=question, body="vandal")
    services.edit_post(actor=alice, post=question, body="staff fix")
    assert PostRevision.objects.filter(post=question).count() == 2


def test_lock_move_merge(public_space, customer_space, alice, carol, cyd):
    make_trusted(cyd)
    first = services.create_topic(actor=carol, space=public_space, title="Export CSV", body="how")
    dup = services.create_topic(actor=cyd, space=public_space, title="CSV export?", body="how?")
    services.reply(actor=alice, topic=dup, body="Menu > Export")
    services.set_locked(actor=alice, topic=first, locked=True)
    first.refresh_from_db()
    with pytest.raises(ValidationFailed):
        services.reply(actor=cyd, topic=first, body="late")
    with pytest.raises(Forbidden):
        services.set_locked(actor=carol, topic=first, locked=False)
    services.set_locked(actor=alice, topic=first, locked=False)
    first.refresh_from_db()
    target = services.merge_topics(actor=alice, source=dup, target=first)
    assert target.reply_count == 1 and target.answered
    dup.refresh_from_db()
    assert dup.merged_into_id == first.pk
    assert Post.objects.filter(topic=first, kind="answer").count() == 1
    moved = services.move_topic(actor=alice, topic=first, space=customer_space)
    assert moved.space_id == customer_space.pk
