"""Demo collaboration for ``kith demo``: groups, posts, comments, mentions, topics, follows.

Three groups (an internal sales team, a partner circle, a customer council with the
portal login carol), posts with @mentions and #topics on demo people and
organisations and in the groups, comments and reactions, and follows. Written through
the services (so feeds, notifications and timelines are exactly what the app would
produce), inside the demo loader's transaction and audit channel; ``wipe`` deletes what
the ``demo`` audit entries name. Dates are moved relative to the anchor, in order.
"""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.contenttypes.models import ContentType

from kith.accounts.models import User
from kith.core.models import AuditEntry
from kith.people.models import Party

from . import services
from .models import Comment, Follow, Group, Membership, Post, Topic

DEMO_CHANNEL = "demo"
TOPICS = ("renewal", "pricing", "onboarding", "feedback", "roadmap", "support")
RECORD_POSTS = [
    "Had a great call with {person}. They want to expand next quarter. #renewal",
    "{person} asked about volume discounts — @{user} can you prepare options? #pricing",
    "Onboarding went smoothly; {person} already invited two colleagues. #onboarding",
    "Heads up @{user}: {person} mentioned a competitor's offer. #pricing #renewal",
    "Shared the **roadmap** with {person}; they liked the reporting features. #roadmap",
    "{person} reported a slow export. Logged it with support. #support",
    "Introduced {person} to @[{other}](person:{other_id}) — both work on logistics.",
    "Quarterly review booked with {person} for next week. #feedback",
]
COMMENTS = [
    "Thanks, on it.",
    "Great news!",
    "I can join that call.",
    "Let's discuss at stand-up.",
    "Sent them the case study as well.",
    "Good catch — noted.",
]
GROUP_POSTS = {
    "internal": [
        "Pipeline review on Friday: bring your top three deals. #renewal",
        "New pricing sheet is in the shared drive. #pricing",
        "Welcome to the team, @{user}!",
    ],
    "partner": [
        "Partner enablement session next month — agenda to follow. #onboarding",
        "Reminder: register joint opportunities before the quarter ends.",
    ],
    "customer": [
        "Welcome to the customer council! Tell us what you would like to see next. #roadmap",
        "We shipped faster exports this week — thanks for the reports. #feedback",
        "What's the one report you wish you had? #feedback",
    ],
}


def _users() -> dict[str, User]:
    return {
        u.username: u
        for u in User.objects.filter(username__in=["alice", "mia", "bob", "vic", "carol"])
    }


def load(*, seed: int, anchor: dt.date) -> str:
    """Write the demo collaboration data; returns a one-line summary."""
    rng = random.Random(seed + 404)
    users = _users()
    staff = [users[n] for n in ("alice", "mia", "bob") if n in users]
    if not staff:
        return "collaboration skipped (no demo logins)"
    writers = staff
    people = list(Party.objects.filter(kind="person", status="active").order_by("id")[:200])
    orgs = list(Party.objects.filter(kind="organization", status="active").order_by("id")[:50])
    if not people:
        return "collaboration skipped (no demo people)"
    made: list[Post] = []
    start = dt.datetime.combine(anchor - dt.timedelta(days=21), dt.time(9), tzinfo=dt.UTC)
    clock = [start]

    def stamp(post: Post) -> None:
        clock[0] += dt.timedelta(minutes=rng.randint(40, 400))
        Post.objects.filter(pk=post.pk).update(created_at=clock[0], updated_at=clock[0])
        made.append(post)

    alice = users.get("alice", staff[0])
    groups = {
        "internal": services.create_group(
            actor=alice, name="Sales team", description="Deals, pricing and pipeline talk."
        ),
        "partner": services.create_group(
            actor=alice,
            name="Partner circle",
            description="Resellers and integrators working with us.",
            privacy="private",
            kind="partner",
        ),
        "customer": services.create_group(
            actor=alice,
            name="Customer council",
            description="Customers shaping the product with us.",
            privacy="private",
            kind="customer",
        ),
    }
    for user in staff:
        if user.pk == alice.pk:
            continue
        services.join_group(actor=user, group=groups["internal"])
        _invite_accept(alice, groups["customer"], user)
        _invite_accept(alice, groups["partner"], user)
    if "carol" in users:
        _invite_accept(alice, groups["customer"], users["carol"])
    for kind, texts in GROUP_POSTS.items():
        for text in texts:
            author = rng.choice(writers)
            body = text.format(user=rng.choice(staff).username)
            visibility = "group" if kind != "internal" else None
            stamp(
                services.create_post(
                    actor=author, target=groups[kind], body=body, visibility=visibility
                )
            )
    if "carol" in users:
        carol = users["carol"]
        stamp(
            services.create_post(
                actor=carol,
                target=groups["customer"],
                body="Could exports include the account owner? Would save us time. #feedback",
            )
        )
    records = rng.sample(people, min(14, len(people))) + rng.sample(orgs, min(4, len(orgs)))
    for record in records:
        for _ in range(rng.randint(1, 3)):
            other = rng.choice(people)
            text = rng.choice(RECORD_POSTS).format(
                person=record.display_name,
                user=rng.choice(staff).username,
                other=other.display_name,
                other_id=other.public_id,
            )
            author = rng.choice(writers)
            post = services.create_post(actor=author, target=record, body=text)
            stamp(post)
            for _ in range(rng.randint(0, 2)):
                services.create_comment(
                    actor=rng.choice(writers), post=post, body=rng.choice(COMMENTS)
                )
            if rng.random() < 0.4:
                services.react(actor=rng.choice(staff), post=post, emoji=rng.choice("👍🎉"))
    if "carol" in users and users["carol"].person_id:
        carol_person = users["carol"].person
        stamp(
            services.create_post(
                actor=alice,
                target=carol_person,
                body="Thanks for joining the customer council, @carol! #onboarding",
                visibility="public",
            )
        )
    for user in staff:
        for record in rng.sample(people, min(10, len(people))):
            services.follow(actor=user, target=record)
    groups_n = len(groups)
    comments = Comment.objects.filter(post__in=made).count()
    return (
        f"{len(made)} posts, {comments} comments in {groups_n} groups; "
        f"{Topic.objects.filter(posts__in=made).distinct().count()} topics"
    )


def _invite_accept(actor: User, group: Group, user: User) -> None:
    if Membership.objects.filter(group=group, user=user, status="active").exists():
        return
    services.invite(actor=actor, group=group, user=user)
    services.respond_invitation(actor=user, group=group, accept=True)


def _demo_ids(model) -> list[int]:
    ct = ContentType.objects.get_for_model(model)
    return list(
        AuditEntry.objects.filter(channel=DEMO_CHANNEL, object_type=ct).values_list(
            "object_id", flat=True
        )
    )


def wipe() -> None:
    """Delete what ``load`` wrote (found through its ``demo`` audit entries)."""
    post_ids = _demo_ids(Post)
    for begin in range(0, len(post_ids), 500):
        Post.objects.filter(pk__in=post_ids[begin : begin + 500]).delete()
    follow_ids = _demo_ids(Follow)
    for begin in range(0, len(follow_ids), 500):
        Follow.objects.filter(pk__in=follow_ids[begin : begin + 500]).delete()
    Group.objects.filter(pk__in=_demo_ids(Group)).delete()
    Topic.objects.filter(posts__isnull=True).delete()
