"""Demo idea portal for ``kith demo``: categories (one with a vote budget), ideas in every
status with votes, comments, status notes, credited co-creators and links to open deals,
dated relative to the demo's anchor day.

Written through the same services customers and staff use (so the timeline, audit and
outbox are what real use produces), on the demo audit channel; ``wipe`` removes it.
"""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType

from kith.core.models import AuditEntry

IDEAS = [
    # (title, category, final status, status note)
    (
        "Export reports to PDF",
        "reporting",
        "shipped",
        "Shipped in 4.2: every report has a PDF button.",
    ),
    ("Dark mode for the portal", "portal", "in_progress", "Designs are done; building it now."),
    ("Schedule reports by e-mail", "reporting", "planned", "Planned for next quarter."),
    (
        "Two-factor login for customers",
        "portal",
        "planned",
        "On the roadmap after the security audit.",
    ),
    (
        "Custom fields on cases",
        "workflow",
        "under_review",
        "We are talking to customers who asked.",
    ),
    ("Bulk edit contacts", "workflow", "under_review", ""),
    ("Slack notifications for case updates", "workflow", "new", ""),
    ("Share a dashboard by link", "reporting", "new", ""),
    (
        "Offline mode for the mobile portal",
        "portal",
        "declined",
        "Not now: too little demand for the cost.",
    ),
    ("Keyboard shortcuts everywhere", "workflow", "new", ""),
    ("Compare two periods in charts", "reporting", "under_review", ""),
    (
        "Let customers attach screenshots from the clipboard",
        "portal",
        "shipped",
        "Live for everyone.",
    ),
]
PATH = {
    "new": [],
    "under_review": ["under_review"],
    "planned": ["under_review", "planned"],
    "in_progress": ["under_review", "planned", "in_progress"],
    "shipped": ["under_review", "planned", "in_progress", "shipped"],
    "declined": ["under_review", "declined"],
}
COMMENTS = (
    "Yes please, we need this every week.",
    "This would save our team hours.",
    "Could it also cover the mobile app?",
    "Same request from our finance team.",
)


def load(*, seed: int, anchor: dt.date) -> str:
    """Write the demo idea portal; returns a one-line summary."""
    from kith.ideas import services
    from kith.ideas.models import Idea, IdeaComment, IdeaStatusChange, IdeaVote

    User = get_user_model()
    rng = random.Random(seed + 1111)
    alice = User.objects.filter(username="alice").first()
    triager = User.objects.filter(username="mia").first() or alice
    if alice is None:
        return "ideas skipped (no demo admin)"
    customers = list(User.objects.filter(kind="portal", is_active=True).order_by("username")[:60])
    if not customers:
        return "ideas skipped (no portal users)"
    categories = {
        "reporting": services.create_category(
            actor=alice,
            name="Reporting",
            slug="reporting",
            vote_budget=10,
            description="Reports, dashboards and exports. 10 votes each.",
        ),
        "portal": services.create_category(
            actor=alice,
            name="Customer portal",
            slug="portal",
            description="What you see when you log in.",
        ),
        "workflow": services.create_category(
            actor=alice,
            name="Workflow",
            slug="workflow",
            description="Cases, contacts and everyday work.",
        ),
    }
    now = dt.datetime.combine(anchor, dt.time(12, 0), tzinfo=dt.UTC)
    made = []
    votes = 0
    for n, (title, slug, final, note) in enumerate(IDEAS):
        author = customers[n % len(customers)]
        idea = services.create_idea(
            actor=author,
            title=title,
            body=f"{title}. {rng.choice(COMMENTS)}",
            category=categories[slug],
        )
        born = now - dt.timedelta(days=rng.randint(3, 120), hours=rng.randint(0, 23))
        voters = rng.sample(customers, k=min(len(customers), rng.randint(2, 25)))
        for voter in voters:
            if voter.pk == author.pk:
                continue
            services.vote(actor=voter, idea=idea)
            votes += 1
        for commenter in voters[:2]:
            services.comment_on_idea(actor=commenter, idea=idea, body=rng.choice(COMMENTS))
        for i, status in enumerate(PATH[final]):
            last = i == len(PATH[final]) - 1
            services.change_status(
                actor=triager, idea=idea, status=status, note=note if last else ""
            )
        if final in ("shipped", "in_progress") and len(voters) > 1:
            helper = voters[-1]
            if helper.pk != author.pk:
                services.credit_contributor(
                    actor=triager, idea=idea, user=helper, contribution="Tested the beta"
                )
        # Spread the history over the weeks before the anchor.
        Idea.objects.filter(pk=idea.pk).update(
            created_at=born, status_changed_at=born + dt.timedelta(days=2)
        )
        IdeaVote.objects.filter(idea=idea).update(created_at=born + dt.timedelta(days=1))
        IdeaComment.objects.filter(idea=idea).update(created_at=born + dt.timedelta(hours=5))
        IdeaStatusChange.objects.filter(idea=idea).update(created_at=born + dt.timedelta(days=2))
        made.append(idea)
    # A duplicate, merged into its original (its voters' votes move over).
    dup = services.create_idea(
        actor=customers[-1],
        title="PDF download for reports",
        body="A PDF of each report, please.",
        category=categories["reporting"],
    )
    for voter in customers[:3]:
        if voter.pk != dup.author_id:
            services.vote(actor=voter, idea=dup)
    services.merge_ideas(actor=triager, source=dup, target=made[2])
    linked = _link_deals(alice, made, rng)
    return f"ideas: {len(made) + 1} ideas in 3 categories, {votes} votes, {linked} deal links"


def _link_deals(actor, ideas: list, rng: random.Random) -> int:
    from kith.ideas import services
    from kith.sales.models import Deal

    deals = list(Deal.objects.filter(stage__is_won=False, stage__is_lost=False).order_by("id")[:8])
    open_ideas = [i for i in ideas if i.status not in ("shipped", "declined")] or ideas
    for deal in deals:  # each deal once: no duplicate link can arise
        services.link_record(actor=actor, idea=rng.choice(open_ideas), deal=deal)
    return len(deals)


def wipe() -> None:
    """Delete the demo ideas (their categories are named by ``demo`` audit entries)."""
    from kith.ideas.models import Category, Idea, IdeaComment, IdeaVote
    from kith.interactions.models import Interaction

    ct = ContentType.objects.get_for_model(Category)
    category_ids = list(
        AuditEntry.objects.filter(channel="demo", object_type=ct).values_list(
            "object_id", flat=True
        )
    )
    for model in (Idea, IdeaVote, IdeaComment):
        kind = ContentType.objects.get_for_model(model)
        Interaction.objects.filter(related_type=kind).delete()
    ideas = Idea.objects.filter(category_id__in=category_ids)
    ideas.update(merged_into=None)
    ideas.delete()
    Category.objects.filter(pk__in=category_ids).delete()
