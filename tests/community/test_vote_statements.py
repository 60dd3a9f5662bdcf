"""A vote's cost in statements (the benchmark's ≤ 30 ms target rests on it), and what a
vote and its withdrawal leave on the ledger, the per-space totals and the timeline."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kith.community import services
from kith.community.models import MemberProfile, ReputationEvent, SpaceReputation, Vote
from kith.interactions.models import Interaction
from tests.community.conftest import make_trusted, portal_user
from tests.conftest import client_for

# session, user, the post (with topic and space; seeing a public space needs no query), the
# profiles (locked, with users and Persons), the vote (conditional INSERT), the score
# (UPDATE … RETURNING), the ledger row, the author's totals, the per-space total,
# serial-vote detection, the timeline interaction, the audit entry, the outbox event.
VOTE_STATEMENTS = 13
# On PostgreSQL the vote, the score, the serial-vote count, the ledger row and both totals
# are one statement (data-modifying CTEs). An author without a daily tally yet costs one
# more: the statement reads today's points from the ledger, and the ledger row follows.
VOTE_STATEMENTS_PG = 8


def _statements(ctx) -> list[str]:
    """What the application ran (the test's own SAVEPOINT / RELEASE left out)."""
    return [
        q["sql"]
        for q in ctx.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


@pytest.fixture
def answers(public_space, carol, cyd):
    topic = services.create_topic(actor=carol, space=public_space, title="Export?", body="How?")
    return topic, [
        services.reply(actor=cyd, topic=topic, body=f"Answer {i}: use the button.") for i in (1, 2)
    ]


def _put_vote(client, post, value=1):
    return client.put(
        f"/api/community/posts/{post.public_id}/vote",
        data={"value": value},
        content_type="application/json",
    )


def test_a_vote_through_the_api_is_a_bounded_number_of_statements(answers, cyd):
    _topic, (first, second) = answers
    voter = portal_user("vera")
    make_trusted(voter)
    client = client_for(voter)
    assert _put_vote(client, first).status_code == 200  # the author's tally for today exists
    with CaptureQueriesContext(connection) as ctx:
        r = _put_vote(client, second)
    assert r.status_code == 200, r.content
    assert r.json()["score"] == 1
    ran = _statements(ctx)
    bound = VOTE_STATEMENTS_PG if connection.vendor == "postgresql" else VOTE_STATEMENTS
    assert len(ran) <= bound, "\n".join(s[:150] for s in ran)
    # What the statements wrote: the vote, the ledger row, both totals, the timeline.
    assert Vote.objects.filter(voter=voter).count() == 2
    assert MemberProfile.objects.get(user=cyd).reputation == 20
    assert services.reputation_from_ledger(cyd) == 20
    assert Interaction.objects.filter(kind="community.vote", party=voter.person).count() == 2


def test_voting_again_the_same_way_changes_nothing(answers, cyd):
    _topic, (first, _second) = answers
    voter = portal_user("vera")
    make_trusted(voter)
    client = client_for(voter)
    assert _put_vote(client, first).json()["score"] == 1
    r = _put_vote(client, first)
    assert r.status_code == 200 and r.json()["score"] == 1
    assert ReputationEvent.objects.filter(user=cyd).count() == 1


def test_the_daily_cap_counts_across_votes(answers, public_space, cyd):
    _topic, (first, second) = answers
    public_space.points = {**public_space.points, "daily_vote_cap": 15}
    public_space.save()
    voters = [portal_user(f"v{i}") for i in range(2)]
    for v in voters:
        make_trusted(v)
    services.vote(actor=voters[0], post=first, value=1)
    services.vote(actor=voters[1], post=second, value=1)
    rows = list(ReputationEvent.objects.filter(user=cyd).order_by("id"))
    assert [r.points for r in rows] == [10, 5]
    assert rows[1].reason == ""
    assert MemberProfile.objects.get(user=cyd).reputation == 15


def test_a_retracted_vote_is_on_the_timeline_with_its_points_undone(answers, public_space, cyd):
    topic, (first, _second) = answers
    voter = portal_user("vera")
    make_trusted(voter)
    services.vote(actor=voter, post=first, value=1)
    assert SpaceReputation.objects.get(user=cyd, space=public_space).reputation == 10
    services.retract_vote(actor=voter, post=first)
    retracted = Interaction.objects.get(kind="community.vote_retracted", party=voter.person)
    assert retracted.summary == f"Withdrew up-vote on: {topic.title} (-10 reputation to its author)"
    assert retracted.information_role == "contributing"
    assert MemberProfile.objects.get(user=cyd).reputation == 0
    assert SpaceReputation.objects.get(user=cyd, space=public_space).reputation == 0
    assert services.reputation_from_ledger(cyd) == 0


def test_without_a_tally_the_daily_cap_counts_todays_ledger(answers, public_space, cyd):
    """An author whose profile keeps no tally for the cap yet (written before it existed,
    or in bulk): the vote reads today's points from the ledger, within the same bound."""
    _topic, (first, second) = answers
    public_space.points = {**public_space.points, "daily_vote_cap": 15}
    public_space.save()
    voters = [portal_user(f"v{i}") for i in range(2)]
    for v in voters:
        make_trusted(v)
    services.vote(actor=voters[0], post=first, value=1)
    MemberProfile.objects.filter(user=cyd).update(vote_points_on=None, vote_points=0)
    client = client_for(voters[1])
    with CaptureQueriesContext(connection) as ctx:
        r = _put_vote(client, second)
    assert r.status_code == 200, r.content
    ran = _statements(ctx)
    # PostgreSQL writes the ledger row after the vote's statement; SQLite sums apart.
    bound = 1 + (VOTE_STATEMENTS_PG if connection.vendor == "postgresql" else VOTE_STATEMENTS)
    assert len(ran) <= bound, "\n".join(s[:150] for s in ran)
    assert [e.points for e in ReputationEvent.objects.filter(user=cyd).order_by("id")] == [10, 5]
    profile = MemberProfile.objects.get(user=cyd)
    assert (profile.reputation, profile.vote_points) == (15, 15)
    assert profile.vote_points_on == timezone.now().date()


def test_a_vote_in_a_customers_space_pays_one_statement_for_the_role(customer_space, carol, cyd):
    """The benchmark's vote: seeing a customers space is one small query on the roles."""
    topic = services.create_topic(actor=carol, space=customer_space, title="Q?", body="How?")
    answers = [services.reply(actor=cyd, topic=topic, body=f"Answer {i}.") for i in (1, 2)]
    voter = portal_user("vera")
    make_trusted(voter)
    client = client_for(voter)
    assert _put_vote(client, answers[0]).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        r = _put_vote(client, answers[1])
    assert r.status_code == 200, r.content
    ran = _statements(ctx)
    bound = 1 + (VOTE_STATEMENTS_PG if connection.vendor == "postgresql" else VOTE_STATEMENTS)
    assert len(ran) <= bound, "\n".join(s[:150] for s in ran)
    assert Vote.objects.filter(voter=voter).count() == 2


def test_a_down_vote_writes_both_rows_and_totals_pointing_at_the_vote(answers, public_space, cyd):
    """A down-vote on an answer: the author's points and the voter's cost, each on the
    ledger with the vote's id, each member's total and per-space total equal to it."""
    _topic, (first, _second) = answers
    voter = portal_user("vera")
    make_trusted(voter, reputation=0)
    public_space.privileges = {"vote_down": {"reputation": 0, "trust_level": 0}}
    public_space.save()
    first.topic.space.refresh_from_db()
    result = services.vote(actor=voter, post=first, value=-1)
    assert result.score == -1
    vote_row = Vote.objects.get(voter=voter)
    rows = {e.user_id: e for e in ReputationEvent.objects.filter(vote=vote_row)}
    assert set(rows) == {cyd.pk, voter.pk}
    assert rows[cyd.pk].points == public_space.point("answer_downvoted")
    assert rows[voter.pk].points == public_space.point("downvote_cast")
    for user in (cyd, voter):
        total = MemberProfile.objects.get(user=user).reputation
        assert total == services.reputation_from_ledger(user) == rows[user.pk].points
        per_space = SpaceReputation.objects.get(user=user, space=public_space).reputation
        assert per_space == rows[user.pk].points


def test_an_up_vote_on_the_question_moves_the_topic_score_and_the_asker(answers, carol):
    topic, _answers = answers
    voter = portal_user("vera")
    make_trusted(voter)
    question = topic.posts.get(kind="question")
    assert services.vote(actor=voter, post=question, value=1).score == 1
    topic.refresh_from_db()
    assert topic.score == 1
    row = ReputationEvent.objects.get(user=carol)
    assert row.vote_id == Vote.objects.get(voter=voter).pk and row.from_vote
    assert MemberProfile.objects.get(user=carol).reputation == row.points > 0


def test_the_tenth_up_vote_awards_the_good_answer_badge_once(answers, cyd):
    """The author as the vote's lock read them (only the columns a vote needs) still
    takes the badge and its event."""
    from kith.community.models import BadgeAward
    from kith.core.models import OutboxEvent

    _topic, (first, _second) = answers
    for i in range(11):
        voter = portal_user(f"fan{i}")
        make_trusted(voter)
        services.vote(actor=voter, post=first, value=1)
    award = BadgeAward.objects.get(user=cyd, badge__slug="good-answer")
    events = OutboxEvent.objects.filter(name="community.badge.awarded", object_id=award.badge_id)
    assert [e.data["user"] for e in events] == [str(cyd.public_id)]
