"""Per-space reputation: stored with each ledger row, back-filled, shown in the space page,
on posts, on the person page and in the API — and never leaking a space the viewer
may not see."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.db.models import Sum

from kith.community import queries, services
from kith.community.models import ReputationEvent, SpaceReputation
from tests.community.conftest import make_trusted, portal_user
from tests.conftest import ApiClient, client_for


def space_rep(user, space) -> int:
    row = SpaceReputation.objects.filter(user=user, space=space).first()
    return row.reputation if row else 0


def ledger_rep(user, space) -> int:
    return (
        ReputationEvent.objects.filter(user=user, space=space).aggregate(s=Sum("points"))["s"] or 0
    )


@pytest.fixture
def two_spaces(public_space, customer_space, carol, cyd):
    """cyd answers in both spaces; carol upvotes and accepts in the public one only."""
    make_trusted(carol, reputation=5000)
    help_topic = services.create_topic(
        actor=carol, space=public_space, title="How do I export?", body="Where is export?"
    )
    help_answer = services.reply(actor=cyd, topic=help_topic, body="Use the export button.")
    services.vote(actor=carol, post=help_answer, value=1)
    services.accept_answer(actor=carol, answer=help_answer)
    cust_topic = services.create_topic(
        actor=carol, space=customer_space, title="Invoice copies", body="Where are invoices?"
    )
    cust_answer = services.reply(actor=cyd, topic=cust_topic, body="Billing > Invoices.")
    services.vote(actor=carol, post=cust_answer, value=1)
    return {
        "help_topic": help_topic,
        "help_answer": help_answer,
        "cust_topic": cust_topic,
        "cust_answer": cust_answer,
    }


def test_each_space_keeps_its_own_total_equal_to_its_ledger(
    two_spaces, public_space, customer_space, carol, cyd
):
    up, accepted = public_space.point("answer_upvoted"), public_space.point("answer_accepted")
    assert space_rep(cyd, public_space) == up + accepted
    assert space_rep(cyd, customer_space) == customer_space.point("answer_upvoted")
    for user in (carol, cyd):
        for space in (public_space, customer_space):
            assert space_rep(user, space) == ledger_rep(user, space)
    # Undoing a vote takes the points back from that space only.
    services.retract_vote(actor=carol, post=two_spaces["cust_answer"])
    assert space_rep(cyd, customer_space) == 0
    assert space_rep(cyd, public_space) == up + accepted


def test_backfill_rebuilds_the_totals_from_the_ledger(two_spaces, public_space, carol, cyd):
    expected = {(r.user_id, r.space_id): r.reputation for r in SpaceReputation.objects.all()}
    assert expected
    SpaceReputation.objects.all().delete()
    migration = importlib.import_module(
        "kith.community.migrations.0003_space_reputation_and_vote_cap"
    )
    migration.backfill_space_reputation(django_apps, None)
    rebuilt = {(r.user_id, r.space_id): r.reputation for r in SpaceReputation.objects.all()}
    assert rebuilt == expected


def test_leaders_are_ordered_by_points_in_that_space(two_spaces, public_space, carol, cyd):
    ivy = portal_user("ivy")
    make_trusted(ivy, reputation=5000)
    services.vote(actor=ivy, post=two_spaces["help_answer"], value=1)
    leaders = queries.space_leaders(public_space)
    assert [leader.member.username for leader in leaders][:1] == ["cyd"]
    assert leaders[0].reputation == space_rep(cyd, public_space)
    # Nobody without positive points in the space is a leader.
    assert all(leader.reputation > 0 for leader in leaders)
    assert "ivy" not in [leader.member.username for leader in leaders]


def test_space_page_shows_leaders_and_my_points(two_spaces, public_space, carol, cyd):
    body = client_for(cyd).get(f"/community/s/{public_space.slug}/").content.decode()
    leaders = body.split('id="space-leaders"', 1)[1].split("</ol>", 1)[0]
    assert leaders.index("cyd") < leaders.index("carol") if "carol" in leaders else "cyd" in leaders
    assert f"<strong data-points>{space_rep(cyd, public_space)}</strong>" in leaders
    mine = space_rep(cyd, public_space)
    assert f"Your points in this space: <strong>{mine}</strong>" in body
    # The topic page shows each author's points in this space beside the byline.
    topic = two_spaces["help_topic"]
    page = client_for(carol).get(f"/community/t/{topic.public_id}/").content.decode()
    assert f"{mine} pts" in page


def test_api_leaders_topic_points_and_member_spaces(
    two_spaces, public_space, customer_space, carol, cyd, pat
):
    r = ApiClient(carol).get(f"/api/community/spaces/{public_space.slug}/leaders")
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["items"][0]["member"]["username"] == "cyd"
    assert data["items"][0]["reputation"] == space_rep(cyd, public_space)
    assert data["my_reputation"] == space_rep(carol, public_space)
    # Anonymous readers see a public space's leaders, without "my" points.
    anon = ApiClient(None).get(f"/api/community/spaces/{public_space.slug}/leaders")
    assert anon.status_code == 200 and anon.json()["my_reputation"] is None
    # A customers-only space's leaders are as invisible as the space (404).
    for who in (None, pat):
        hidden = ApiClient(who).get(f"/api/community/spaces/{customer_space.slug}/leaders")
        assert hidden.status_code == 404
    assert (
        ApiClient(carol).get(f"/api/community/spaces/{public_space.slug}/leaders", limit=0)
    ).status_code == 422
    # Each post carries its author's points in the topic's space.
    topic = ApiClient(carol).get(f"/api/community/topics/{two_spaces['help_topic'].public_id}")
    answers = topic.json()["answers"]
    assert answers[0]["author_space_reputation"] == space_rep(cyd, public_space)
    # A member's standing lists points per space, only in spaces the viewer sees.
    seen_by_carol = ApiClient(carol).get(f"/api/community/members/{cyd.public_id}").json()
    assert {s["space"]["slug"]: s["reputation"] for s in seen_by_carol["spaces"]} == {
        public_space.slug: space_rep(cyd, public_space),
        customer_space.slug: space_rep(cyd, customer_space),
    }
    seen_by_pat = ApiClient(pat).get(f"/api/community/members/{cyd.public_id}").json()
    assert [s["space"]["slug"] for s in seen_by_pat["spaces"]] == [public_space.slug]


def test_person_page_panel_lists_points_per_space(two_spaces, public_space, alice, cyd):
    body = client_for(alice).get(f"/people/{cyd.person.public_id}/").content.decode()
    assert 'id="community-space-points"' in body and public_space.name in body
