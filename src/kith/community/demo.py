"""Demo community for ``kith demo``: spaces, a few hundred topics with answers, votes,
accepted answers, reputation, trust levels and badges, relative to the demo's anchor.

Spaces are made through the services; the bulk (members, topics, posts, votes, the
ledger rows those votes earn, timeline interactions, visits and reads) goes in with
``bulk_create`` so the demo loads in about a second, then each member's trust level is
computed by the same service the worker runs, so levels differ because activity does.
One showcase question of carol's (asked, answered, accepted) goes through the services
end to end. ``wipe`` removes what ``load`` wrote.

``generate`` is also the bulk writer of ``benchmarks/community.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import uuid
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Sum

from kith.collab.rendering import render_markdown
from kith.core.models import AuditEntry

from . import search, services
from .models import (
    DEFAULT_POINTS,
    MemberProfile,
    Post,
    PostRead,
    ReputationEvent,
    Space,
    Topic,
    Visit,
    Vote,
)

DEMO_CHANNEL = "demo"
MEMBER_PREFIX = "member-"
SOURCE = "community-demo"
VERBS = (
    "export",
    "import",
    "sync",
    "merge",
    "filter",
    "share",
    "archive",
    "schedule",
    "tag",
    "search",
    "print",
    "restore",
    "invite",
    "assign",
    "rename",
    "translate",
    "connect",
)
THINGS = (
    "contacts",
    "invoices",
    "deals",
    "cases",
    "reports",
    "calendars",
    "attachments",
    "organisations",
    "pipelines",
    "dashboards",
    "notes",
    "emails",
    "tasks",
    "tags",
    "custom fields",
    "API tokens",
    "webhooks",
    "CSV files",
    "vCards",
    "segments",
)
PLACES = (
    "the mobile app",
    "the web app",
    "Outlook",
    "Gmail",
    "the API",
    "the portal",
    "Excel",
    "Slack",
    "the dashboard",
    "a shared inbox",
    "the calendar feed",
)
QUESTION_TEMPLATES = (
    "How do I {verb} {thing} from {place}?",
    "Can I {verb} {thing} in {place}?",
    "Why can't I {verb} {thing} with {place}?",
    "Best way to {verb} {thing} to {place}",
    "{Thing} do not {verb} in {place} since the update",
    "Is there a limit when I {verb} {thing}?",
)
ANSWERS = (
    "Open **Settings › {Thing}** and choose *{verb}*. It works from {place} too.",
    "I had the same problem: sign out of {place}, sign in again, then {verb} once more.",
    "You can {verb} {thing} in bulk: select them in the list, then use the menu.",
    "This is a known limit of {place}; use the CSV route meanwhile.",
    "Works for me since last week's release — check that you are on the latest version.",
    "We use a saved filter and {verb} from there every Monday. Saves a lot of clicks.",
)
DISCUSSIONS = (
    "Share your {thing} workflow with {place}",
    "What would make {thing} easier for your team?",
    "Tips for onboarding new colleagues to {thing}",
)


def _title(rng: random.Random, discussion: bool) -> tuple[str, str]:
    verb, thing, place = rng.choice(VERBS), rng.choice(THINGS), rng.choice(PLACES)
    template = rng.choice(DISCUSSIONS if discussion else QUESTION_TEMPLATES)
    title = template.format(verb=verb, thing=thing, place=place, Thing=thing.capitalize())
    body = (
        f"We are trying to {verb} {thing} and {place} is where our team works. "
        f"Has anyone done this? Any tips welcome."
    )
    return title, body


@contextlib.contextmanager
def _keep_given_times(*models):
    """Let ``bulk_create`` store the ``created_at`` we give (``auto_now_add`` would not)."""
    fields = [m._meta.get_field("created_at") for m in models]
    saved = [f.auto_now_add for f in fields]
    for f in fields:
        f.auto_now_add = False
    try:
        yield
    finally:
        for f, value in zip(fields, saved, strict=True):
            f.auto_now_add = value


def generate(
    *,
    spaces: list[Space],
    authors: list[int],
    staff: list[int],
    topics: int,
    answers_per_topic: float,
    votes_per_post: float,
    start: dt.datetime,
    end: dt.datetime,
    seed: int,
    persons: dict[int, int] | None = None,
    interactions: bool = True,
    batch: int = 5000,
) -> dict[str, int]:
    """Bulk-write ``topics`` topics with answers, votes, acceptances and their ledger rows.

    ``authors`` are member user ids, ``staff`` staff user ids (they give official
    answers); ``persons`` maps user id → person id for timeline interactions. Scores,
    counts and times are decided before the rows are written, so each row is written
    once (the accepted answer, which needs the answer's id, is one UPDATE per topic).
    """
    from django.db import connection

    from kith.interactions.models import Interaction

    rng = random.Random(seed)
    persons = persons or {}
    span = (end - start).total_seconds()
    counts: dict[str, int] = defaultdict(int)
    ct_topic = ContentType.objects.get_for_model(Topic)
    ct_post = ContentType.objects.get_for_model(Post)

    def uid() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    todo = topics
    while todo > 0:
        n = min(batch, todo)
        todo -= n
        topic_rows: list[Topic] = []
        post_plan: list[list[tuple[Post, list[tuple[int, int, dt.datetime]]]]] = []
        accepted_at: list[int | None] = []  # index into the topic's posts
        for _ in range(n):
            space = rng.choice(spaces)
            discussion = rng.random() < 0.15
            title, body = _title(rng, discussion)
            created = start + dt.timedelta(seconds=rng.random() * span)
            author = rng.choice(staff if space.audience == Space.Audience.STAFF else authors)
            k = min(int(rng.expovariate(1 / answers_per_topic)) if answers_per_topic else 0, 40)
            posts: list[tuple[Post, list[tuple[int, int, dt.datetime]]]] = []
            when = created
            for i in range(k + 1):
                if i == 0:
                    who, text, official, kind = author, body, False, Post.Kind.QUESTION
                    html = f"<p>{body}</p>"
                else:
                    when = min(end, when + dt.timedelta(minutes=rng.randint(5, 3000)))
                    official = rng.random() < 0.1
                    who = rng.choice(staff) if official else rng.choice(authors)
                    kind = Post.Kind.ANSWER
                    text = rng.choice(ANSWERS).format(
                        verb=rng.choice(VERBS),
                        thing=rng.choice(THINGS),
                        Thing=rng.choice(THINGS).capitalize(),
                        place=rng.choice(PLACES),
                    )
                    html = render_markdown(text) if counts["rendered"] < 2000 else f"<p>{text}</p>"
                    counts["rendered"] += 1
                n_votes = int(rng.expovariate(1 / votes_per_post)) if votes_per_post else 0
                voters = []
                for voter in rng.sample(authors, min(len(authors), n_votes)):
                    if voter != who:
                        value = 1 if rng.random() < 0.9 else -1
                        voters.append(
                            (voter, value, when + dt.timedelta(minutes=rng.randint(1, 5000)))
                        )
                post = Post(
                    public_id=uid(),
                    kind=kind,
                    author_id=who,
                    body=text,
                    body_html=html,
                    is_official=official,
                    score=sum(v for _, v, _ in voters),
                    created_at=when,
                    updated_at=when,
                )
                posts.append((post, voters))
            answers = [p for p, _ in posts[1:]]
            accepted = None
            if answers and not discussion and rng.random() < 0.6:
                accepted = rng.randrange(1, len(posts))
            accepted_at.append(accepted)
            post_plan.append(posts)
            topic_rows.append(
                Topic(
                    public_id=uid(),
                    space=space,
                    kind=Topic.Kind.DISCUSSION if discussion else Topic.Kind.QUESTION,
                    title=title,
                    author_id=author,
                    created_at=created,
                    updated_at=when,
                    last_activity_at=when,
                    reply_count=len(answers),
                    answered=accepted is not None or any(a.is_official for a in answers),
                    score=posts[0][0].score,
                    search_text=search.build_document(title=title, body=body, tags=[]),
                )
            )
        with _keep_given_times(Topic, Post):
            Topic.objects.bulk_create(topic_rows, batch_size=1000)
            search.index_many([(t.pk, t.search_text) for t in topic_rows])
            flat: list[Post] = []
            for topic, posts in zip(topic_rows, post_plan, strict=True):
                for post, _ in posts:
                    post.topic = topic
                    flat.append(post)
            Post.objects.bulk_create(flat, batch_size=2000)
        accepted_rows = []
        votes: list[Vote] = []
        ledger: list[ReputationEvent] = []
        timeline: list[Interaction] = []
        for topic, posts, acc in zip(topic_rows, post_plan, accepted_at, strict=True):
            space = topic.space
            if acc is not None:
                answer = posts[acc][0]
                accepted_rows.append((answer.pk, topic.pk))
                if answer.author_id != topic.author_id:
                    ledger.append(
                        ReputationEvent(
                            user_id=answer.author_id,
                            space=space,
                            action="answer_accepted",
                            points=space.point("answer_accepted"),
                            post=answer,
                            actor_id=topic.author_id,
                            created_at=answer.created_at + dt.timedelta(hours=2),
                        )
                    )
            for post, voters in posts:
                for voter, value, at in voters:
                    votes.append(
                        Vote(
                            post=post,
                            voter_id=voter,
                            author_id=post.author_id,
                            value=value,
                            created_at=at,
                        )
                    )
                if interactions and post.author_id in persons:
                    seeking = post.kind == Post.Kind.QUESTION and topic.kind == Topic.Kind.QUESTION
                    question = post.kind == Post.Kind.QUESTION
                    timeline.append(
                        Interaction(
                            public_id=uid(),
                            party_id=persons[post.author_id],
                            channel="community",
                            direction="in",
                            kind="community.question" if question else "community.answer",
                            occurred_at=post.created_at,
                            summary=(("Asked: " if seeking else "Answered: ") + topic.title)[:300],
                            source=SOURCE,
                            external_id=f"post:{post.public_id}",
                            actor_id=post.author_id,
                            related_type=ct_topic if question else ct_post,
                            related_id=topic.pk if question else post.pk,
                            information_role="seeking" if seeking else "contributing",
                        )
                    )
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE community_topic SET accepted_answer_id = %s WHERE id = %s", accepted_rows
            )
        Vote.objects.bulk_create(votes, batch_size=5000)
        for v in votes:
            subject = "question" if v.post.kind == Post.Kind.QUESTION else "answer"
            action = subject + ("_upvoted" if v.value > 0 else "_downvoted")
            ledger.append(
                ReputationEvent(
                    user_id=v.author_id,
                    space_id=v.post.topic.space_id,
                    action=action,
                    points=DEFAULT_POINTS[action],
                    from_vote=True,
                    post=v.post,
                    vote=v,
                    actor_id=v.voter_id,
                    created_at=v.created_at,
                )
            )
        ReputationEvent.objects.bulk_create(ledger, batch_size=5000)
        if timeline:
            Interaction.objects.bulk_create(timeline, batch_size=5000)
        counts["topics"] += len(topic_rows)
        counts["posts"] += len(flat)
        counts["votes"] += len(votes)
        counts["ledger"] += len(ledger)
        counts["interactions"] += len(timeline)
    # The cached totals, derived from the ledger.
    members = set(authors) | set(staff)
    totals = dict(
        ReputationEvent.objects.values("user_id")
        .annotate(s=Sum("points"))
        .values_list("user_id", "s")
    )
    MemberProfile.objects.bulk_create(
        [MemberProfile(user_id=u, reputation=totals.get(u, 0)) for u in members],
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["reputation"],
        batch_size=5000,
    )
    counts.pop("rendered", None)
    return dict(counts)


def _members(rng: random.Random, limit: int) -> tuple[list, dict[int, int]]:
    """Portal logins for customers and partners of the demo (their Persons exist already)."""
    from kith.people.models import Party

    User = get_user_model()
    taken = set(User.objects.filter(person__isnull=False).values_list("person_id", flat=True))
    customers = [
        p
        for p in Party.objects.people().active().holding("customer").order_by("id")[: limit * 2]
        if p.pk not in taken
    ][:limit]
    partners = [
        p
        for p in Party.objects.people().active().holding("partner").order_by("id")[:20]
        if p.pk not in taken and p not in customers
    ][:8]
    rows = []
    for i, person in enumerate(customers + partners):
        user = User(
            username=f"{MEMBER_PREFIX}{i:03d}",
            kind=User.Kind.PORTAL,
            role="viewer",
            person=person,
            first_name=person.given_name or "",
            last_name=person.family_name or "",
            date_joined=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )
        user.set_unusable_password()
        rows.append(user)
    User.objects.bulk_create(rows)
    users = list(User.objects.filter(username__startswith=MEMBER_PREFIX).order_by("username"))
    return users, {u.pk: u.person_id for u in users}


def _activity(rng: random.Random, users: list, anchor: dt.datetime) -> None:
    """Visits and reads that make members' trust levels differ (new … leader)."""
    posts = list(Post.objects.order_by("-id").values_list("id", flat=True)[:600])
    visits, reads = [], []
    for i, user in enumerate(users):
        tier = i % 5  # 0 new, 1 basic, 2 member, 3 regular, 4 leader-ish
        days = (0, 3, 12, 35, 70)[tier]
        n_reads = (0, 15, 60, 220, 520)[tier]
        for d in range(days):
            visits.append(Visit(user=user, day=(anchor - dt.timedelta(days=d)).date()))
        for pid in rng.sample(posts, min(n_reads, len(posts))):
            reads.append(
                PostRead(
                    user=user,
                    post_id=pid,
                    created_at=anchor - dt.timedelta(days=rng.randint(0, 90)),
                )
            )
    Visit.objects.bulk_create(visits, ignore_conflicts=True, batch_size=5000)
    PostRead.objects.bulk_create(reads, ignore_conflicts=True, batch_size=5000)


def load(*, seed: int, anchor: dt.date) -> str:
    """Write the demo community; returns a one-line summary."""
    User = get_user_model()
    rng = random.Random(seed + 1010)
    alice = User.objects.filter(username="alice").first()
    if alice is None:
        return "community skipped (no demo admin)"
    staff_ids = list(
        User.objects.filter(username__in=["alice", "mia", "bob"]).values_list("id", flat=True)
    )
    spaces = [
        services.create_space(
            actor=alice,
            name="Getting started",
            slug="getting-started",
            audience="public",
            description="Questions anyone can read: setting up, importing, first steps.",
        ),
        services.create_space(
            actor=alice,
            name="Customer lounge",
            slug="customers",
            audience="customers",
            description="For our customers: tips, workflows and help from peers.",
        ),
        services.create_space(
            actor=alice,
            name="Partner hub",
            slug="partners",
            audience="partners",
            description="Resellers and integrators helping each other.",
        ),
        services.create_space(
            actor=alice,
            name="Staff room",
            slug="staff-room",
            audience="staff",
            description="Internal: how we answer the hard ones.",
        ),
    ]
    from kith.collab.models import Group

    council = Group.objects.filter(name="Customer council").first()
    if council is not None:
        spaces.append(
            services.create_space(
                actor=alice,
                name="Council beta",
                slug="council-beta",
                audience="group",
                group=council,
                description="Early features, discussed with the customer council.",
            )
        )
    members, persons = _members(rng, 40)
    if not members:
        return "community skipped (no demo customers)"
    now = dt.datetime.combine(anchor, dt.time(12), tzinfo=dt.UTC)
    counts = generate(
        spaces=spaces,
        authors=[m.pk for m in members],
        staff=staff_ids,
        topics=300,
        answers_per_topic=2.5,
        votes_per_post=2.0,
        start=now - dt.timedelta(days=120),
        end=now,
        seed=seed,
        persons=persons,
    )
    _activity(rng, members, now)
    levels = defaultdict(int)
    for member in members:
        _, level = services.recompute_trust_level(user=member)
        levels[level] += 1
        if Topic.objects.filter(author=member).exists():
            services.award_badge(user=member, slug="first-question")
        if Post.objects.filter(author=member, kind=Post.Kind.ANSWER).exists():
            services.award_badge(user=member, slug="first-answer")
    carol = User.objects.filter(username="carol").first()
    if carol is not None and members:
        space = spaces[1] if spaces[1].pk in services.access.visible_space_ids(carol) else spaces[0]
        showcase = services.create_topic(
            actor=carol,
            space=space,
            title="How do I export my contacts to Excel?",
            body="I need a list of my contacts with their e-mail addresses for a mail merge.",
        )
        helper = members[3]
        answer = services.reply(
            actor=helper,
            topic=showcase,
            body="Go to **People**, filter the list, then *Export › CSV*; Excel opens it directly.",
        )
        services.accept_answer(actor=carol, answer=answer)
    summary = ", ".join(f"TL{k}: {v}" for k, v in sorted(levels.items()))
    return (
        f"community: {len(spaces)} spaces, {counts.get('topics', 0)} topics, "
        f"{counts.get('posts', 0)} posts, {counts.get('votes', 0)} votes, "
        f"{len(members)} members ({summary})"
    )


def wipe() -> None:
    """Delete what ``load`` wrote (spaces named by their ``demo`` audit entries, members)."""
    from kith.interactions.models import Interaction

    ct = ContentType.objects.get_for_model(Space)
    space_ids = list(
        AuditEntry.objects.filter(channel=DEMO_CHANNEL, object_type=ct).values_list(
            "object_id", flat=True
        )
    )
    Interaction.objects.filter(source=SOURCE).delete()
    for ct_model in (Topic, Post):
        kind = ContentType.objects.get_for_model(ct_model)
        Interaction.objects.filter(channel="community", related_type=kind).delete()
    ReputationEvent.objects.filter(space_id__in=space_ids).delete()
    topic_ids = list(Topic.objects.filter(space_id__in=space_ids).values_list("id", flat=True))
    Topic.objects.filter(space_id__in=space_ids).update(accepted_answer=None, merged_into=None)
    for begin in range(0, len(topic_ids), 500):
        chunk = topic_ids[begin : begin + 500]
        for pk in chunk:
            search.remove_topic(pk)
        Topic.objects.filter(pk__in=chunk).delete()
    Space.objects.filter(pk__in=space_ids).delete()
    get_user_model().objects.filter(username__startswith=MEMBER_PREFIX, kind="portal").delete()
