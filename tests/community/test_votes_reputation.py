"""Votes, accepted answers and the reputation ledger."""

from __future__ import annotations

import pytest

from kith.community import services
from kith.community.models import MemberProfile, ReputationEvent, Vote
from kith.core.errors import Forbidden, ValidationFailed
from kith.interactions.models import Interaction
from tests.community.conftest import make_trusted, portal_user


def rep(user) -> int:
    cached = MemberProfile.objects.get(user=user).reputation
    assert cached == services.reputation_from_ledger(user), "cache drifted from the ledger"
    return cached


@pytest.fixture
def qa(public_space, carol, cyd):
    topic = services.create_topic(
        actor=carol, space=public_space, title="How do I export?", body="Where is export?"
    )
    answer = services.reply(actor=cyd, topic=topic, body="Use the export button.")
    return topic, answer


def test_upvote_gives_configured_points_and_undo_takes_them_back(qa, public_space, carol, cyd):
    _topic, answer = qa
    make_trusted(carol, reputation=0, level=1)
    public_space.privileges = {"vote_up": {"reputation": 0, "trust_level": 1}}
    public_space.save()
    before = rep(cyd)
    result = services.vote(actor=carol, post=answer, value=1)
    assert result.score == 1
    assert rep(cyd) == before + public_space.point("answer_upvoted")
    services.retract_vote(actor=carol, post=answer)
    assert rep(cyd) == before
    assert not Vote.objects.exists()
    # The ledger keeps both rows: the award and its reversal.
    rows = list(ReputationEvent.objects.filter(user=cyd, post=answer).order_by("id"))
    assert [r.points for r in rows] == [10, -10]
    assert rows[1].reverses_id == rows[0].pk


def test_self_vote_is_refused_naming_the_field(qa, cyd):
    _, answer = qa
    make_trusted(cyd)
    with pytest.raises(ValidationFailed) as exc:
        services.vote(actor=cyd, post=answer, value=1)
    assert exc.value.errors[0].field == "post"
    assert services.reputation_from_ledger(cyd) == 0


def test_one_vote_per_person_changing_direction_replaces_it(qa, carol, cyd):
    _, answer = qa
    make_trusted(carol)
    services.vote(actor=carol, post=answer, value=1)
    services.vote(actor=carol, post=answer, value=1)
    assert Vote.objects.filter(post=answer).count() == 1
    result = services.vote(actor=carol, post=answer, value=-1)
    assert result.score == -1
    assert Vote.objects.get(post=answer).value == -1
    # +10 reversed, -2 for the downvote received.
    assert rep(cyd) == -2


def test_votes_on_locked_or_deleted_posts_are_refused(qa, carol, cyd, alice):
    topic, answer = qa
    make_trusted(carol)
    services.set_locked(actor=alice, topic=topic, locked=True)
    answer.topic.refresh_from_db()
    with pytest.raises(ValidationFailed) as exc:
        services.vote(actor=carol, post=answer, value=1)
    assert exc.value.errors[0].field == "post"
    services.set_locked(actor=alice, topic=topic, locked=False)
    services.delete_post(actor=cyd, post=answer)
    answer.refresh_from_db()
    with pytest.raises(ValidationFailed):
        services.vote(actor=carol, post=answer, value=1)


def test_voting_needs_the_privilege(qa, carol):
    _, answer = qa
    with pytest.raises(Forbidden):
        services.vote(actor=carol, post=answer, value=1)


def test_daily_cap_on_points_from_votes(public_space, alice, cyd):
    services.update_space_rules(actor=alice, space=public_space, points={"daily_vote_cap": 25})
    public_space.refresh_from_db()
    voters = [portal_user(f"voter{i}") for i in range(4)]
    topic = services.create_topic(actor=alice, space=public_space, title="Cap", body="Cap test")
    answer = services.reply(actor=cyd, topic=topic, body="An answer")
    for voter in voters:
        make_trusted(voter)
        services.vote(actor=voter, post=answer, value=1)
    # 4 × 10 points, but the cap stops at 25.
    assert rep(cyd) == 25


def test_serial_votes_from_one_voter_are_reversed(public_space, alice, carol, cyd):
    make_trusted(carol)
    make_trusted(cyd, reputation=0)
    answers = []
    for i in range(4):
        topic = services.create_topic(actor=alice, space=public_space, title=f"T{i}", body="b")
        answers.append(services.reply(actor=cyd, topic=topic, body=f"answer {i}"))
    for answer in answers[:3]:
        services.vote(actor=carol, post=answer, value=1)
    assert rep(cyd) == 30
    services.vote(actor=carol, post=answers[3], value=1)  # the fourth within a day
    assert rep(cyd) == 0
    assert ReputationEvent.objects.filter(user=cyd, reason="serial voting").count() == 4


def test_accept_answer_by_asker_gives_points_and_timeline(qa, carol, cyd, public_space):
    topic, answer = qa
    services.accept_answer(actor=carol, answer=answer)
    topic.refresh_from_db()
    assert topic.accepted_answer_id == answer.pk and topic.answered
    assert rep(cyd) == public_space.point("answer_accepted")
    assert rep(carol) == public_space.point("accepted_an_answer")
    kinds = set(
        Interaction.objects.filter(party=cyd.person, channel="community").values_list(
            "kind", "information_role"
        )
    )
    assert ("community.answer_accepted", "contributing") in kinds
    assert ("community.answer", "contributing") in kinds
    assert Interaction.objects.filter(
        party=carol.person, kind="community.question", information_role="seeking"
    ).exists()


def test_nobody_accepts_an_answer_on_someone_elses_question(qa, cyd, pat):
    topic, answer = qa
    other = portal_user("other")
    for user in (other, cyd):
        with pytest.raises(Forbidden):
            services.accept_answer(actor=user, answer=answer)
    topic.refresh_from_db()
    assert topic.accepted_answer_id is None


def test_moderator_can_accept_and_reaccept_moves_points(qa, alice, carol, cyd, public_space):
    topic, first = qa
    second = services.reply(actor=alice, topic=topic, body="Official answer")
    assert second.is_official
    services.accept_answer(actor=alice, answer=first)
    assert rep(cyd) == 15
    services.accept_answer(actor=carol, answer=second)
    assert rep(cyd) == 0


def test_bad_input_names_the_field(public_space, carol):
    with pytest.raises(ValidationFailed) as exc:
        services.create_topic(actor=carol, space=public_space, title="x" * 201, body="")
    fields = {e.field for e in exc.value.errors}
    assert fields == {"title", "body"}
    with pytest.raises(ValidationFailed) as exc:
        services.create_topic(actor=carol, space=public_space, title="ok", body="ok", kind="poll")
    assert exc.value.errors[0].field == "kind"


def test_rules_are_validated(public_space, alice, bob):
    with pytest.raises(ValidationFailed) as exc:
        services.update_space_rules(
            actor=alice, space=public_space, points={"answer_upvoted": "ten", "made_up": 1}
        )
    assert {e.field for e in exc.value.errors} == {"points.answer_upvoted", "points.made_up"}
    with pytest.raises(Forbidden):
        services.update_space_rules(actor=bob, space=public_space, points={"answer_upvoted": 1})
    space = services.update_space_rules(
        actor=alice, space=public_space, privileges={"flag": {"reputation": 1}}
    )
    assert space.privilege("flag") == {"reputation": 1, "trust_level": 1}


def test_deleting_the_accepted_answer_withdraws_the_acceptance_and_its_points(qa, carol, cyd):
    topic, answer = qa
    services.accept_answer(actor=carol, answer=answer)
    assert rep(cyd) > 0 and rep(carol) > 0
    services.delete_post(actor=cyd, post=answer)
    topic.refresh_from_db()
    assert topic.accepted_answer_id is None
    assert not topic.answered
    assert (rep(cyd), rep(carol)) == (0, 0)


def test_removing_the_accepted_answer_on_a_flag_withdraws_the_acceptance(
    qa, alice, carol, cyd, public_space
):
    topic, answer = qa
    services.accept_answer(actor=carol, answer=answer)
    services.resolve_flags(actor=alice, post=answer, remove=True)
    topic.refresh_from_db()
    assert topic.accepted_answer_id is None
    assert rep(carol) == 0
    assert rep(cyd) == public_space.point("post_flagged_removed")
