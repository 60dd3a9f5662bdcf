"""Idea services: proposing, the status workflow, votes and budgets, merges, credits,
links and the value at stake, timeline and outbox."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kith.collab.models import Notification
from kith.core.errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationFailed
from kith.core.models import OutboxEvent
from kith.ideas import queries, services
from kith.ideas.models import Idea, IdeaContributor, IdeaStatusChange, IdeaVote, Status
from kith.interactions.models import Interaction
from tests.ideas.conftest import portal_user

pytestmark = pytest.mark.django_db


def _fields(exc) -> set[str]:
    return {e.field for e in exc.value.errors}


def test_create_idea_sanitises_and_lands_on_the_timeline(carol, category):
    idea = services.create_idea(
        actor=carol,
        title="  Dark   mode ",
        body="Please <script>alert(1)</script> **now**",
        category=category,
    )
    assert idea.title == "Dark mode"
    assert "<script" not in idea.body_html and "<strong>now</strong>" in idea.body_html
    row = Interaction.objects.get(party=carol.person, kind="idea.proposed")
    assert row.channel == "community" and row.information_role == "contributing"
    assert OutboxEvent.objects.filter(name="idea.created", object_id=idea.pk).exists()


def test_bad_input_names_each_field(carol, category):
    with pytest.raises(ValidationFailed) as exc:
        services.create_idea(actor=carol, title="x" * 201, body="   ", category=category)
    assert _fields(exc) == {"title", "body"}
    assert not Idea.objects.exists()


def test_viewer_and_anonymous_cannot_propose(vic, category):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(Forbidden):
        services.create_idea(actor=vic, title="t", body="b", category=category)
    with pytest.raises(NotAuthenticated):
        services.create_idea(actor=AnonymousUser(), title="t", body="b", category=category)


def test_one_vote_per_person_and_count(idea, cyd, bob):
    _, created = services.vote(actor=cyd, idea=idea)
    _, again = services.vote(actor=cyd, idea=idea)
    services.vote(actor=bob, idea=idea)
    assert created and not again
    idea.refresh_from_db()
    assert idea.vote_count == 2 == IdeaVote.objects.filter(idea=idea).count()
    assert Interaction.objects.filter(party=cyd.person, kind="idea.vote").count() == 1
    assert OutboxEvent.objects.filter(name="idea.voted", object_id=idea.pk).count() == 2
    assert services.retract_vote(actor=cyd, idea=idea)
    idea.refresh_from_db()
    assert idea.vote_count == 1


def test_status_workflow_is_enforced(idea, bob, vic, carol):
    with pytest.raises(ValidationFailed) as exc:
        services.change_status(actor=bob, idea=idea, status=Status.SHIPPED)
    assert _fields(exc) == {"status"}
    with pytest.raises(ValidationFailed):
        services.change_status(actor=bob, idea=idea, status="nonsense")
    with pytest.raises(Forbidden):
        services.change_status(actor=vic, idea=idea, status=Status.PLANNED)
    with pytest.raises(NotFound):  # a customer is not told triage exists
        services.change_status(actor=carol, idea=idea, status=Status.PLANNED)
    for status in (Status.UNDER_REVIEW, Status.PLANNED, Status.IN_PROGRESS, Status.SHIPPED):
        services.change_status(actor=bob, idea=idea, status=status, note=f"now {status}")
    idea.refresh_from_db()
    assert idea.status == Status.SHIPPED
    assert list(IdeaStatusChange.objects.filter(idea=idea).values_list("to_status", flat=True)) == [
        "under_review",
        "planned",
        "in_progress",
        "shipped",
    ]
    with pytest.raises(ValidationFailed):  # shipped is final
        services.change_status(actor=bob, idea=idea, status=Status.PLANNED)
    assert OutboxEvent.objects.filter(name="idea.status_changed").count() == 4


def test_status_note_notifies_voters_and_followers_not_the_actor(idea, cyd, bob, carol):
    dee = portal_user("dee")
    services.vote(actor=cyd, idea=idea)
    services.follow_idea(actor=dee, idea=idea)
    services.vote(actor=bob, idea=idea)  # the actor voted too: no notice to himself
    services.change_status(actor=bob, idea=idea, status=Status.PLANNED, note="Coming in **Q3**")
    notified = set(Notification.objects.values_list("user__username", flat=True))
    assert notified == {"cyd", "dee", "carol"}  # carol follows her own idea
    note = Notification.objects.get(user=cyd)
    assert "planned" in note.text and "Coming in" in note.text
    assert note.url == f"/ideas/{idea.public_id}/"
    # The author's timeline shows the answer she sought.
    row = Interaction.objects.get(party=carol.person, kind="idea.status")
    assert row.information_role == "seeking"


def test_no_votes_on_declined_or_merged(idea, bob, cyd, category, carol):
    services.change_status(actor=bob, idea=idea, status=Status.DECLINED, note="Out of scope")
    with pytest.raises(ValidationFailed) as exc:
        services.vote(actor=cyd, idea=idea)
    assert _fields(exc) == {"idea"}
    other = services.create_idea(actor=carol, title="Dup", body="dup", category=category)
    keep = services.create_idea(actor=cyd, title="Keep", body="keep", category=category)
    services.merge_ideas(actor=bob, source=other, target=keep)
    with pytest.raises(ValidationFailed) as exc:
        services.vote(actor=cyd, idea=other)
    assert _fields(exc) == {"idea"}


def test_vote_budget_per_category(alice, category, carol, cyd):
    services.update_category(actor=alice, category=category, vote_budget=2)
    ideas = [
        services.create_idea(actor=carol, title=f"Idea {i}", body="b", category=category)
        for i in range(3)
    ]
    services.vote(actor=cyd, idea=ideas[0])
    services.vote(actor=cyd, idea=ideas[1])
    with pytest.raises(ValidationFailed) as exc:
        services.vote(actor=cyd, idea=ideas[2])
    assert _fields(exc) == {"idea"} and "2" in exc.value.errors[0].message
    # A declined idea gives its vote back.
    services.change_status(actor=alice, idea=ideas[0], status=Status.DECLINED)
    services.vote(actor=cyd, idea=ideas[2])
    assert IdeaVote.objects.filter(voter=cyd).count() == 3


def test_merge_unites_votes_without_double_counting_and_tells_voters(bob, carol, cyd, category):
    dee = portal_user("dee")
    source = services.create_idea(actor=carol, title="PDF export", body="b", category=category)
    target = services.create_idea(actor=dee, title="Export reports", body="b", category=category)
    services.vote(actor=cyd, idea=source)
    services.vote(actor=cyd, idea=target)  # voted for both: one vote after the merge
    services.vote(actor=bob, idea=source)
    services.vote(actor=dee, idea=source)
    services.merge_ideas(actor=bob, source=source, target=target)
    target.refresh_from_db()
    source.refresh_from_db()
    assert source.merged_into_id == target.pk and source.vote_count == 0
    assert target.vote_count == 3
    assert set(IdeaVote.objects.filter(idea=target).values_list("voter__username", flat=True)) == {
        "cyd",
        "bob",
        "dee",
    }
    # The duplicate's author is credited on the survivor.
    assert IdeaContributor.objects.filter(idea=target, user=carol).exists()
    told = set(
        Notification.objects.filter(text__contains="merged").values_list(
            "user__username", flat=True
        )
    )
    assert told == {"cyd", "dee"}  # bob merged it himself
    assert OutboxEvent.objects.get(name="idea.merged").data["votes_united"] == 1
    with pytest.raises(Conflict):
        services.merge_ideas(actor=bob, source=source, target=target)


def test_credit_contributors(idea, bob, cyd, carol):
    services.credit_contributor(actor=bob, idea=idea, user=cyd, contribution="Tested the beta")
    with pytest.raises(Conflict):
        services.credit_contributor(actor=bob, idea=idea, user=cyd)
    with pytest.raises(ValidationFailed):
        services.credit_contributor(actor=bob, idea=idea, user=carol)  # the author
    page = queries.idea_page(bob, idea)
    assert [c.user.username for c in page.contributors] == ["cyd"]
    assert Interaction.objects.filter(party=cyd.person, kind="idea.credit").exists()


def test_value_at_stake_converts_open_deals_to_the_base_currency(alice, idea, settings):
    from kith.sales.models import Deal, ExchangeRate, Pipeline

    settings.KITH_BASE_CURRENCY = "EUR"
    ExchangeRate.objects.create(currency="USD", rate=Decimal("0.5"), valid_from=dt.date(2000, 1, 1))
    pipeline = Pipeline.objects.get(is_default=True)
    open_stage = pipeline.stages.filter(is_won=False, is_lost=False).first()
    won = pipeline.stages.filter(is_won=True).first()

    def deal(title, amount, currency, stage):
        return Deal.objects.create(
            title=title,
            amount=Decimal(amount),
            currency=currency,
            pipeline=pipeline,
            stage=stage,
            stage_entered_at=dt.datetime.now(dt.UTC),
        )

    for d in (
        deal("A", "1000", "EUR", open_stage),
        deal("B", "400", "USD", open_stage),
        deal("C", "9999", "EUR", won),
        deal("D", "50", "JPY", open_stage),
    ):
        services.link_record(actor=alice, idea=idea, deal=d)
    stake = queries.value_at_stake([idea.pk])[idea.pk]
    assert stake.amount == Decimal("1200.00") and stake.currency == "EUR"
    assert stake.deals == 2 and stake.missing_rates == ["JPY"]


def test_idea_interactions_are_registered_mirrors_agents_see(idea, cyd, bob):
    from kith.interactions.access import registered_mirrors, scope_interactions

    services.vote(actor=cyd, idea=idea)
    services.comment_on_idea(actor=cyd, idea=idea, body="Yes")
    assert {"ideas.idea", "ideas.ideavote", "ideas.ideacomment"} <= set(registered_mirrors())
    # Unregistered kinds are shown to admins and managers only; an agent sees these.
    kinds = set(
        scope_interactions(bob)
        .filter(channel="community", kind__startswith="idea.")
        .values_list("kind", flat=True)
    )
    assert kinds == {"idea.proposed", "idea.vote", "idea.comment"}
