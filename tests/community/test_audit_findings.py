"""Defects found by an audit of kith.community, each pinned by a test that failed before its fix."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.accounts import services as account_services
from kith.accounts.models import Role
from kith.community import access, services
from kith.community.models import MemberProfile, Post, Topic
from kith.core.errors import KithError, ValidationFailed
from tests.community.conftest import portal_user
from tests.conftest import PASSWORD, client_for, signed_up_customer


@pytest.fixture
def topic(public_space, carol):
    return services.create_topic(
        actor=carol, space=public_space, title="Export contacts", body="How do I export?"
    )


# ---------------------------------------------------------------- access


def test_a_deleted_post_is_not_readable_by_others(api_as, topic, cyd, carol, alice):
    answer = services.reply(actor=cyd, topic=topic, body="Call me on secret-line 555")
    services.delete_post(actor=cyd, post=answer)
    url = f"/api/community/posts/{answer.public_id}"
    assert Client().get(url).status_code == 404  # anonymous
    assert api_as(carol).get(url).status_code == 404
    assert api_as(carol).get(f"{url}/revisions").status_code == 404
    # Moderators still see it (the topic page shows them deleted posts too).
    assert api_as(alice).get(url).status_code == 200


def test_a_post_removed_by_a_moderator_is_not_readable_by_others(api_as, topic, cyd, carol, bob):
    answer = services.reply(actor=cyd, topic=topic, body="Something offensive")
    services.resolve_flags(actor=bob, post=answer, remove=True)
    assert Client().get(f"/api/community/posts/{answer.public_id}").status_code == 404
    assert api_as(carol).get(f"/api/community/posts/{answer.public_id}").status_code == 404


def test_a_members_email_address_is_not_shown_to_others(api_as, public_space, topic, alice):
    erin = signed_up_customer("erin@example.com", family="Member")
    asked = services.create_topic(
        actor=erin, space=public_space, title="Where is the export?", body="I cannot find it."
    )
    answer = services.reply(actor=erin, topic=topic, body="Under Settings.")
    services.accept_answer(actor=alice, answer=answer)  # points: erin leads the space
    anonymous = Client()
    pages = [
        anonymous.get(f"/api/community/topics/{asked.public_id}"),
        anonymous.get(f"/api/community/topics/{topic.public_id}"),
        anonymous.get(f"/api/community/posts/{answer.public_id}"),
        anonymous.get(f"/api/community/spaces/{public_space.slug}/topics"),
        anonymous.get(f"/api/community/spaces/{public_space.slug}/leaders"),
        anonymous.get(f"/community/t/{asked.public_id}/"),
        anonymous.get(f"/community/t/{topic.public_id}/"),
        anonymous.get(f"/community/s/{public_space.slug}/"),
    ]
    for response in pages:
        assert response.status_code == 200
        assert "erin@example.com" not in response.content.decode(), response.request["PATH_INFO"]


def test_an_asker_cannot_accept_an_answer_held_for_review(api_as, topic, carol, cyd):
    answer = services.reply(actor=cyd, topic=topic, body="Buy pills at spam.example")
    Post.objects.filter(pk=answer.pk).update(hidden_at=answer.created_at)
    r = api_as(carol).post(
        f"/api/community/topics/{topic.public_id}/accept", {"answer": str(answer.public_id)}
    )
    assert r.status_code == 422, r.content
    topic.refresh_from_db()
    assert topic.accepted_answer_id is None


# ---------------------------------------------------------------- read-modify-write


def test_merging_with_a_stale_copy_makes_no_merge_cycle(public_space, carol, alice):
    one = services.create_topic(actor=carol, space=public_space, title="One", body="first")
    two = services.create_topic(actor=carol, space=public_space, title="Two", body="second")
    # Two moderators load the pages at once: each holds a copy from before either merge.
    stale_one = access.get_topic(alice, one.public_id)
    stale_two = access.get_topic(alice, two.public_id)
    services.merge_topics(actor=alice, source=two, target=one)
    with pytest.raises(ValidationFailed):
        services.merge_topics(actor=alice, source=stale_one, target=stale_two)
    one.refresh_from_db()
    two.refresh_from_db()
    assert one.merged_into_id is None and two.merged_into_id == one.pk


def test_a_topic_merged_already_is_not_merged_again(public_space, carol, alice):
    one = services.create_topic(actor=carol, space=public_space, title="One", body="first")
    two = services.create_topic(actor=carol, space=public_space, title="Two", body="second")
    three = services.create_topic(actor=carol, space=public_space, title="Three", body="third")
    stale_two = access.get_topic(alice, two.public_id)
    services.merge_topics(actor=alice, source=two, target=one)
    with pytest.raises(KithError):
        services.merge_topics(actor=alice, source=stale_two, target=three)
    two.refresh_from_db()
    assert two.merged_into_id == one.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_opposite_merges_make_no_cycle(restore_migration_seed):
    from tests.concurrency import require_postgres, run_together

    require_postgres()
    admin = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    space = services.create_space(actor=admin, name="Help", slug="help", audience="public")
    one = services.create_topic(actor=admin, space=space, title="One", body="first")
    two = services.create_topic(actor=admin, space=space, title="Two", body="second")

    def prepare(pair):
        source, target = pair
        return (access.get_topic(admin, source), access.get_topic(admin, target))

    def work(pair):
        return services.merge_topics(actor=admin, source=pair[0], target=pair[1])

    results, errors = run_together(
        work,
        [(one.public_id, two.public_id), (two.public_id, one.public_id)],
        prepare=prepare,
    )
    assert len(results) == 1 and len(errors) == 1, (results, errors)
    assert isinstance(errors[0], ValidationFailed)
    merged = Topic.objects.filter(pk__in=[one.pk, two.pk], merged_into__isnull=False).count()
    assert merged == 1


def test_a_pinned_trust_level_survives_a_recompute_running_at_the_time(carol, bob, monkeypatch):
    services.ensure_profile(carol)
    real = services.earned_level

    def earned_while_a_moderator_pins(user, rules):
        level = real(user, rules)
        # Meanwhile a moderator pins carol at level 3 (committed before the task writes).
        services.set_trust_level(actor=bob, user=carol, level=3, locked=True)
        return level

    monkeypatch.setattr(services, "earned_level", earned_while_a_moderator_pins)
    services.recompute_trust_level(user=carol)
    profile = MemberProfile.objects.get(user=carol)
    assert profile.trust_locked and profile.trust_level == 3


def test_removing_a_flagged_answer_moves_the_reply_count(topic, cyd, bob):
    answer = services.reply(actor=cyd, topic=topic, body="An answer")
    topic.refresh_from_db()
    assert topic.reply_count == 1
    services.resolve_flags(actor=bob, post=answer, remove=True)
    topic.refresh_from_db()
    assert topic.reply_count == 0
    # The author deleting it afterwards moves nothing more.
    services.delete_post(actor=cyd, post=Post.objects.get(pk=answer.pk))
    topic.refresh_from_db()
    assert topic.reply_count == 0


# ---------------------------------------------------------------- bad input: 4xx, never 5xx


@pytest.mark.parametrize("raw", ["²", "9" * 5000])
def test_rules_form_with_odd_numbers_is_a_4xx(public_space, alice, raw):
    client = client_for(alice)
    client.raise_request_exception = False
    r = client.post(
        f"/community/s/{public_space.slug}/rules/",
        {"points.answer_upvoted": raw, "privileges.vote_up.reputation": raw},
    )
    assert r.status_code == 422


@pytest.mark.parametrize("raw", ["²", "9" * 5000])
def test_trust_level_forms_with_odd_numbers_are_4xx(alice, bob, raw):
    carol = portal_user("cora")
    client = client_for(alice)
    client.raise_request_exception = False
    r = client.post("/community/trust-levels/", {"level": "1", "name": "Basic", "min_replies": raw})
    assert r.status_code == 422
    r = client.post("/community/trust-levels/", {"level": raw, "name": "Basic"})
    assert 400 <= r.status_code < 500
    agent = client_for(bob)
    agent.raise_request_exception = False
    r = agent.post(f"/community/members/{carol.public_id}/trust/", {"level": raw})
    assert 400 <= r.status_code < 500


def test_an_answer_or_comment_on_a_stale_copy_of_a_locked_or_closed_topic_is_refused(
    topic, alice, cyd
):
    # cyd loaded the topic page; a moderator locks the topic before cyd's answer arrives.
    stale = Topic.objects.get(pk=topic.pk)
    question = Post.objects.get(topic=topic, kind=Post.Kind.QUESTION)
    services.set_locked(actor=alice, topic=topic, locked=True)
    with pytest.raises(ValidationFailed):
        services.reply(actor=cyd, topic=stale, body="Late answer")
    with pytest.raises(ValidationFailed):
        services.comment(actor=cyd, post=Post.objects.get(pk=question.pk), body="Late comment")
    services.set_locked(actor=alice, topic=topic, locked=False)
    stale = Topic.objects.get(pk=topic.pk)
    services.set_closed(actor=alice, topic=topic, closed=True)
    with pytest.raises(ValidationFailed):
        services.reply(actor=cyd, topic=stale, body="Late answer")
    assert not Post.objects.filter(topic=topic, kind=Post.Kind.ANSWER).exists()
    assert not Post.objects.filter(topic=topic, kind=Post.Kind.COMMENT).exists()
