"""Every community write: spaces, topics, posts, votes, the reputation ledger, trust,
badges and moderation. Keyword-only, one transaction each, an audit entry, domain
events through the outbox, and an interaction on the member's timeline.

Concurrency: a vote locks the voter's and the author's ``MemberProfile`` rows (in id
order, so two members voting on each other cannot deadlock) before it reads anything
it writes from: the voter's existing vote, the author's points earned today. The unique
(post, voter) constraint is the backstop. Accepting an answer locks the topic row.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.text import slugify

from kith.collab.rendering import render_markdown
from kith.core import audit, events
from kith.core.errors import Conflict, FieldError, Forbidden, NotFound, Throttled, ValidationFailed

from . import access, search
from .models import (
    BODY_MAX,
    DEFAULT_POINTS,
    PRIVILEGES,
    TITLE_MAX,
    Badge,
    BadgeAward,
    Flag,
    MemberProfile,
    Post,
    PostRead,
    PostRevision,
    ReputationEvent,
    Space,
    SpaceReputation,
    Tag,
    Topic,
    TrustLevelRule,
    Visit,
    Vote,
)

MAX_TAGS = 5
_TAG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")
_LINK_RE = re.compile(r"(https?://|www\.|\]\(\s*[a-z][a-z0-9+.-]*:)", re.IGNORECASE)
# A member this young who posts links is held for review (spam heuristic).
NEW_ACCOUNT_DAYS = 3
TRUSTED_FLAGGER_LEVEL = 2


# ---------------------------------------------------------------- helpers


def _clean_title(title: str | None) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise ValidationFailed.single("title", "This field is required.")
    if len(title) > TITLE_MAX:
        raise ValidationFailed.single("title", f"At most {TITLE_MAX} characters.")
    return title


def _clean_body(body: str | None, field: str = "body") -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationFailed.single(field, "This field is required.")
    if len(body) > BODY_MAX:
        raise ValidationFailed.single(field, f"At most {BODY_MAX} characters.")
    if "\x00" in body:
        raise ValidationFailed.single(field, "Contains a NUL character.")
    return body


def _clean_tags(tags: list[str] | None) -> list[str]:
    cleaned: list[str] = []
    for raw in tags or []:
        slug = slugify(str(raw))[:50]
        if not slug or not _TAG_RE.match(slug):
            raise ValidationFailed.single("tags", f"Not a valid tag: {str(raw)[:60]!r}.")
        if slug not in cleaned:
            cleaned.append(slug)
    if len(cleaned) > MAX_TAGS:
        raise ValidationFailed.single("tags", f"At most {MAX_TAGS} tags.")
    return cleaned


def count_links(text: str) -> int:
    return len(_LINK_RE.findall(text or ""))


def ensure_profile(user) -> MemberProfile:
    profile = MemberProfile.objects.filter(user=user).first()
    if profile is None:
        try:
            with transaction.atomic():
                profile = MemberProfile.objects.create(user=user)
        except IntegrityError:  # created concurrently
            profile = MemberProfile.objects.get(user=user)
    return profile


def _party_of(user):
    person = getattr(user, "person", None) if user is not None else None
    if person is None or person.status != person.Status.ACTIVE:
        return None
    return person


def _timeline(*, user, kind: str, summary: str, role: str, related, external_id: str = "") -> None:
    """Put one community act on ``user``'s person's timeline (staff without a Person: none)."""
    from kith.interactions import services as interaction_services
    from kith.interactions.models import Channel, Direction

    party = _party_of(user)
    if party is None:
        return
    interaction_services.log_interaction(
        actor=user,
        party=party,
        channel=Channel.COMMUNITY,
        direction=Direction.INBOUND,
        kind=kind,
        summary=summary[:300],
        source="community" if external_id else "",
        external_id=external_id,
        related=related,
        information_role=role,
    )


def _entry(
    *,
    user,
    space: Space | None,
    action: str,
    points: int,
    post: Post | None = None,
    vote: Vote | None = None,
    actor=None,
    from_vote: bool = False,
    reason: str = "",
    reverses: ReputationEvent | None = None,
) -> ReputationEvent:
    """One unsaved ledger row (``_write_ledger`` writes a batch of them)."""
    user_id = user if isinstance(user, int) else user.pk
    return ReputationEvent(
        user_id=user_id,
        space=space,
        action=action,
        points=points,
        post=post,
        vote=vote,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        from_vote=from_vote,
        reason=reason,
        reverses=reverses,
        created_at=timezone.now(),
    )


def _write_ledger(
    entries: list[ReputationEvent], *, also: dict[int, dict[str, Any]] | None = None
) -> list[ReputationEvent]:
    """Append ledger rows in one INSERT and move the cached totals with them (same
    transaction): each member's global total with an F() expression, and the per-space
    totals with one upsert. ``also`` sets more profile fields per user id in the same
    UPDATE (the vote's daily tally)."""
    if not entries:
        return entries
    if connection.vendor == "postgresql":
        return _write_ledger_pg(entries, also=also)
    ReputationEvent.objects.bulk_create(entries)
    per_user, per_space = _ledger_totals(entries, also)
    for user_id, points in per_user.items():
        fields = {**(also or {}).get(user_id, {}), "reputation": F("reputation") + points}
        moved = MemberProfile.objects.filter(user_id=user_id).update(**fields)
        if not moved:  # a member's first points: the profile row comes with them
            MemberProfile.objects.bulk_create(
                [MemberProfile(user_id=user_id)], ignore_conflicts=True
            )
            MemberProfile.objects.filter(user_id=user_id).update(**fields)
    if per_space:
        _add_space_reputation(per_space)
    return entries


def _ledger_totals(
    entries: list[ReputationEvent], also: dict[int, dict[str, Any]] | None
) -> tuple[dict[int, int], dict[tuple[int, int], int]]:
    """Points per member and per (member, space) that ``entries`` move."""
    per_user: dict[int, int] = {}
    per_space: dict[tuple[int, int], int] = {}
    for e in entries:
        if e.points:
            per_user[e.user_id] = per_user.get(e.user_id, 0) + e.points
            if e.space_id is not None:
                key = (e.user_id, e.space_id)
                per_space[key] = per_space.get(key, 0) + e.points
    for user_id in (also or {}).keys() - per_user.keys():
        per_user[user_id] = 0
    return per_user, per_space


_LEDGER_COLUMNS = (
    "user_id",
    "space_id",
    "action",
    "points",
    "from_vote",
    "post_id",
    "vote_id",
    "actor_id",
    "reverses_id",
    "reversed",
    "reason",
    "created_at",
)


@dataclass
class _LedgerSql:
    """The data-modifying CTEs that append ledger rows and move the cached totals, the
    expressions the statement then selects (the rows' ids, then one count per member
    whose profile it updated) and their parameters, in the order they appear."""

    ctes: list[str]
    selects: list[str]
    params: list[Any]
    users: list[tuple[int, int]]  # (user id, points) of each profile UPDATE, in order


def _ledger_sql(
    entries: list[ReputationEvent],
    *,
    also: dict[int, dict[str, Any]] | None = None,
    after_vote: bool = False,
) -> _LedgerSql:
    """``_write_ledger`` on PostgreSQL as parts of one statement: the ledger rows, each
    member's total (and ``also``'s fields) and the per-space upsert.

    ``after_vote``: the parts join ``_cast_vote``'s statement, whose CTE ``v`` returns the
    new vote's id, or no row when (post, voter) had a vote already. The ledger rows then
    point at that vote, and nothing here is written unless it returned a row (each part
    is guarded by ``EXISTS (SELECT 1 FROM v)``; one INSERT per row, because a multi-row
    ``SELECT`` cannot take its column types from the table as ``VALUES`` does)."""
    per_user, per_space = _ledger_totals(entries, also)
    qn = connection.ops.quote_name
    guard = " WHERE EXISTS (SELECT 1 FROM v)" if after_vote else ""
    fields = {f.column: f for f in ReputationEvent._meta.concrete_fields}
    params: list[Any] = []

    def values(entry: ReputationEvent) -> str:
        out = []
        for column in _LEDGER_COLUMNS:
            if after_vote and column == "vote_id":
                out.append("(SELECT id FROM v)")
                continue
            field = fields[column]
            out.append("%s")
            params.append(field.get_db_prep_save(getattr(entry, field.attname), connection))
        return ", ".join(out)

    table = qn(ReputationEvent._meta.db_table)
    columns = ", ".join(_LEDGER_COLUMNS)
    if after_vote:
        ctes = [
            f"e{i} AS (INSERT INTO {table} ({columns}) SELECT {values(e)}{guard} RETURNING id)"
            for i, e in enumerate(entries)
        ]
        ids = ", ".join(f"(SELECT id FROM e{i})" for i in range(len(entries)))  # noqa: S608
        selects = [f"ARRAY[{ids}]"]
    else:
        rows = ", ".join(f"({values(e)})" for e in entries)
        ctes = [f"e AS (INSERT INTO {table} ({columns}) VALUES {rows} RETURNING id)"]  # noqa: S608
        selects = ["ARRAY(SELECT id FROM e)"]
    profile_fields = {f.name: f for f in MemberProfile._meta.concrete_fields}
    users = list(per_user.items())
    for i, (user_id, points) in enumerate(users):
        sets = ["reputation = reputation + %s"]
        params.append(points)
        for name, value in (also or {}).get(user_id, {}).items():
            field = profile_fields[name]  # names come from this module, never from input
            sets.append(f"{qn(field.column)} = %s")
            params.append(field.get_db_prep_save(value, connection))
        also_new = " AND EXISTS (SELECT 1 FROM v)" if after_vote else ""
        ctes.append(
            f"u{i} AS (UPDATE {qn(MemberProfile._meta.db_table)} SET {', '.join(sets)} "  # noqa: S608
            f"WHERE user_id = %s{also_new} RETURNING 1)"
        )
        params.append(user_id)
        selects.append(f"(SELECT count(*) FROM u{i})")  # noqa: S608
    spaces = qn(SpaceReputation._meta.db_table)
    upsert = (
        f" ON CONFLICT (user_id, space_id) DO UPDATE "
        f"SET reputation = {spaces}.reputation + excluded.reputation RETURNING 1)"
    )
    if after_vote:
        for j, ((user_id, space_id), moved) in enumerate(per_space.items()):
            ctes.append(
                f"s{j} AS (INSERT INTO {spaces} (user_id, space_id, reputation) "
                f"SELECT %s, %s, %s{guard}{upsert}"
            )
            params += [user_id, space_id, moved]
    elif per_space:
        ctes.append(
            f"s AS (INSERT INTO {spaces} (user_id, space_id, reputation) VALUES "  # noqa: S608
            + ", ".join(["(%s, %s, %s)"] * len(per_space))
            + upsert
        )
        for (user_id, space_id), moved in per_space.items():
            params += [user_id, space_id, moved]
    return _LedgerSql(ctes, selects, params, users)


def _ledger_written(
    entries: list[ReputationEvent],
    sql: _LedgerSql,
    row: tuple[Any, ...],
    *,
    also: dict[int, dict[str, Any]] | None = None,
) -> None:
    """After the statement of ``sql`` ran: its ids onto ``entries`` (``row`` holds what
    ``sql.selects`` selected), and a member without a profile row (no update counted)
    gets one with their points, as on SQLite."""
    for entry, pk in zip(entries, row[0], strict=True):
        entry.pk = pk
        entry._state.adding = False
    for (user_id, points), moved in zip(sql.users, row[1:], strict=True):
        if not moved:  # a member's first points: the profile row comes with them
            fields_ = {**(also or {}).get(user_id, {}), "reputation": F("reputation") + points}
            MemberProfile.objects.bulk_create(
                [MemberProfile(user_id=user_id)], ignore_conflicts=True
            )
            MemberProfile.objects.filter(user_id=user_id).update(**fields_)


def _write_ledger_pg(
    entries: list[ReputationEvent], *, also: dict[int, dict[str, Any]] | None = None
) -> list[ReputationEvent]:
    """``_write_ledger`` on PostgreSQL in one round trip (data-modifying CTEs): one
    statement instead of three."""
    sql = _ledger_sql(entries, also=also)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(sql.ctes)} SELECT {', '.join(sql.selects)}", sql.params)
        row = cursor.fetchone()
    _ledger_written(entries, sql, row, also=also)
    return entries


def _add_space_reputation(points: dict[tuple[int, int], int]) -> None:
    """Upsert ``{(user id, space id): points}`` into the per-space totals in one statement."""
    table = connection.ops.quote_name(SpaceReputation._meta.db_table)
    values = ", ".join(["(%s, %s, %s)"] * len(points))
    params: list[int] = []
    for (user_id, space_id), moved in points.items():
        params += [user_id, space_id, moved]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, space_id, reputation) VALUES {values} "  # noqa: S608
            f"ON CONFLICT (user_id, space_id) DO UPDATE "
            f"SET reputation = {table}.reputation + excluded.reputation",
            params,
        )


def _ledger(**kwargs) -> ReputationEvent:
    """Append one ledger row and move the cached totals with it (same transaction)."""
    return _write_ledger([_entry(**kwargs)])[0]


def _reverse(entries, *, actor=None, reason: str) -> int:
    """Write the compensating row of each not-yet-reversed ledger entry (one INSERT for
    all of them) and mark the originals reversed; returns points moved."""
    rows = []
    originals = []
    for entry in entries:
        if entry.reversed or entry.reverses_id is not None:
            continue
        originals.append(entry.pk)
        rows.append(
            ReputationEvent(
                user_id=entry.user_id,
                space_id=entry.space_id,
                action=f"{entry.action}_reversed",
                points=-entry.points,
                post_id=entry.post_id,
                vote_id=entry.vote_id,
                actor=actor if getattr(actor, "is_authenticated", False) else None,
                from_vote=entry.from_vote,
                reason=reason,
                reverses=entry,
                created_at=timezone.now(),
            )
        )
    if not rows:
        return 0
    ReputationEvent.objects.filter(pk__in=originals).update(reversed=True)
    _write_ledger(rows)
    return sum(r.points for r in rows)


def reputation_from_ledger(user) -> int:
    """The truth: the sum of the ledger (the cached total must equal it)."""
    return ReputationEvent.objects.filter(user=user).aggregate(s=Sum("points"))["s"] or 0


def award_badge(*, user, slug: str) -> bool:
    badge = Badge.objects.filter(slug=slug).first()
    if badge is None or user is None:
        return False
    _, created = BadgeAward.objects.get_or_create(
        badge=badge, user=user, defaults={"awarded_at": timezone.now()}
    )
    if created:
        events.emit(
            "community.badge.awarded", obj=badge, actor=None, data={"user": str(user.public_id)}
        )
    return created


def _rule_for(level: int) -> TrustLevelRule | None:
    return TrustLevelRule.objects.filter(level__lte=level).order_by("-level").first()


def _check_rate_and_links(user, profile: MemberProfile, body: str) -> bool:
    """Trust-level limits for a member's new post; returns True when it must wait for review."""
    if access.is_staff(user):
        return False
    rule = _rule_for(profile.trust_level)
    links = count_links(body)
    if rule is not None:
        if links and not rule.links_allowed:
            raise ValidationFailed.single(
                "body", "New members cannot post links yet; take part a little first."
            )
        since = timezone.now() - dt.timedelta(days=1)
        today = Post.objects.filter(author=user, created_at__gte=since).count()
        if today >= rule.posts_per_day:
            raise Throttled(
                f"Your trust level allows {rule.posts_per_day} posts a day; try again later."
            )
    young = user.date_joined and user.date_joined > timezone.now() - dt.timedelta(
        days=NEW_ACCOUNT_DAYS
    )
    return bool(links and young)


def _new_post(*, topic: Topic, kind: str, author, body: str, parent: Post | None = None) -> Post:
    return Post.objects.create(
        topic=topic,
        kind=kind,
        parent=parent,
        author=author,
        body=body,
        body_html=render_markdown(body),
        is_official=kind == Post.Kind.ANSWER and access.is_staff(author),
    )


def _hold_for_review(post: Post, *, reason: str) -> None:
    now = timezone.now()
    Post.objects.filter(pk=post.pk).update(hidden_at=now)
    post.hidden_at = now
    Flag.objects.create(
        post=post, flagger=None, reason=Flag.Reason.SPAM, note=reason, created_at=now
    )
    if post.kind == Post.Kind.QUESTION:
        Topic.objects.filter(pk=post.topic_id).update(hidden_at=now)
    events.emit("community.post.held", obj=post, data={"reason": reason})


def record_visit(*, user) -> None:
    """A member was here today (idempotent; for trust levels' "days visited")."""
    if not access.is_logged_in(user):
        return
    Visit.objects.bulk_create([Visit(user=user, day=timezone.now().date())], ignore_conflicts=True)


# ---------------------------------------------------------------- spaces and rules


def create_space(
    *,
    actor,
    name: str,
    slug: str = "",
    audience: str = Space.Audience.PUBLIC,
    description: str = "",
    group=None,
) -> Space:
    if not access.is_staff(actor) or not actor.sees_everything:
        raise Forbidden("Only admins and managers create spaces.")
    name = " ".join((name or "").split())
    errors = []
    if not name or len(name) > 120:
        errors.append(FieldError("name", "Between 1 and 120 characters."))
    slug = slugify(slug or name)[:80]
    if not slug:
        errors.append(FieldError("slug", "Give a slug of letters, digits or hyphens."))
    elif Space.objects.filter(slug=slug).exists():
        errors.append(FieldError("slug", "A space with this slug exists."))
    if audience not in Space.Audience.values:
        errors.append(FieldError("audience", f"One of: {', '.join(Space.Audience.values)}."))
    if audience == Space.Audience.GROUP and group is None:
        errors.append(FieldError("group", "A group space needs its group."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        space = Space.objects.create(
            name=name,
            slug=slug,
            audience=audience,
            description=(description or "")[:5000],
            group=group if audience == Space.Audience.GROUP else None,
        )
        audit.record(actor=actor, action="community.space.created", obj=space)
        events.emit("community.space.created", obj=space, actor=actor)
    return space


def update_space_rules(
    *,
    actor,
    space: Space,
    points: dict[str, int] | None = None,
    privileges: dict[str, dict[str, int]] | None = None,
) -> Space:
    """Admins edit a space's points per action and privilege thresholds (data, not code)."""
    access.require_admin(actor)
    errors = []
    for key, value in (points or {}).items():
        if key not in DEFAULT_POINTS:
            errors.append(FieldError(f"points.{key}", "Unknown action."))
        elif not isinstance(value, int) or isinstance(value, bool) or abs(value) > 100_000:
            errors.append(FieldError(f"points.{key}", "A whole number between -100000 and 100000."))
        elif key in ("daily_vote_cap", "serial_vote_limit", "flags_to_hide") and value < 1:
            errors.append(FieldError(f"points.{key}", "Must be at least 1."))
    for key, value in (privileges or {}).items():
        if key not in PRIVILEGES:
            errors.append(FieldError(f"privileges.{key}", "Unknown privilege."))
            continue
        if not isinstance(value, dict) or set(value) - {"reputation", "trust_level"}:
            errors.append(FieldError(f"privileges.{key}", "Give reputation and/or trust_level."))
            continue
        for part, number in value.items():
            if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 10**7:
                errors.append(FieldError(f"privileges.{key}.{part}", "A whole number ≥ 0."))
            elif part == "trust_level" and number > 4:
                errors.append(FieldError(f"privileges.{key}.{part}", "Between 0 and 4."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        locked = Space.objects.select_for_update().get(pk=space.pk)
        before = {"points": dict(locked.points), "privileges": dict(locked.privileges)}
        locked.points = {**locked.points, **(points or {})}
        merged = dict(locked.privileges)
        for key, value in (privileges or {}).items():
            merged[key] = {**locked.privilege(key), **value}
        locked.privileges = merged
        locked.save(update_fields=["points", "privileges", "updated_at"])
        audit.record(
            actor=actor,
            action="community.space.rules_changed",
            obj=locked,
            changes=audit.diff(before, {"points": locked.points, "privileges": locked.privileges}),
        )
        events.emit("community.space.rules_changed", obj=locked, actor=actor)
    return locked


# ---------------------------------------------------------------- topics and posts


def _tags(slugs: list[str]) -> list[Tag]:
    existing = {t.slug: t for t in Tag.objects.filter(slug__in=slugs)}
    missing = [Tag(slug=s) for s in slugs if s not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.slug: t for t in Tag.objects.filter(slug__in=slugs)}
    return [existing[s] for s in slugs]


def create_topic(
    *,
    actor,
    space: Space,
    title: str,
    body: str,
    kind: str = Topic.Kind.QUESTION,
    tags: list[str] | None = None,
) -> Topic:
    """Ask a question or open a discussion in ``space`` (which ``actor`` must see)."""
    access.require_participant(actor)
    if space.pk not in access.visible_space_ids(actor):
        raise NotFound("No such space.")
    errors = []
    try:
        title = _clean_title(title)
    except ValidationFailed as exc:
        errors += exc.errors
    try:
        body = _clean_body(body)
    except ValidationFailed as exc:
        errors += exc.errors
    if kind not in Topic.Kind.values:
        errors.append(FieldError("kind", "Either 'question' or 'discussion'."))
    try:
        slugs = _clean_tags(tags)
    except ValidationFailed as exc:
        errors += exc.errors
    if errors:
        raise ValidationFailed(errors=errors)
    profile = ensure_profile(actor)
    hold = _check_rate_and_links(actor, profile, body)
    now = timezone.now()
    with transaction.atomic():
        topic = Topic.objects.create(
            space=space, kind=kind, title=title, author=actor, last_activity_at=now
        )
        if slugs:
            topic.tags.set(_tags(slugs))
        post = _new_post(topic=topic, kind=Post.Kind.QUESTION, author=actor, body=body)
        search.index_topic(topic, body=body)
        if hold:
            _hold_for_review(post, reason="new account posting links")
            topic.hidden_at = post.hidden_at
        audit.record(
            actor=actor,
            action="community.topic.created",
            obj=topic,
            changes={"title": title, "space": space.slug},
            party_id=getattr(_party_of(actor), "pk", None),
        )
        events.emit(
            "community.topic.created",
            obj=topic,
            actor=actor,
            data={"space": str(space.public_id), "kind": kind, "title": title},
        )
        _timeline(
            user=actor,
            kind=f"community.{kind}",
            summary=f"Asked: {title}" if kind == Topic.Kind.QUESTION else f"Started: {title}",
            role="seeking" if kind == Topic.Kind.QUESTION else "contributing",
            related=topic,
        )
        if kind == Topic.Kind.QUESTION:
            award_badge(user=actor, slug="first-question")
    return topic


def _require_open(topic: Topic, field: str = "topic") -> None:
    if topic.deleted_at is not None or topic.merged_into_id is not None:
        raise ValidationFailed.single(field, "This topic was deleted or merged.")
    if topic.locked_at is not None:
        raise ValidationFailed.single(field, "This topic is locked.")


def _locked_topic(topic: Topic) -> Topic:
    """``topic``'s row as committed now, locked until the caller's transaction ends."""
    return Topic.objects.select_for_update().get(pk=topic.pk)


def reply(*, actor, topic: Topic, body: str) -> Post:
    """Answer a question (or reply in a discussion). Staff answers are marked official."""
    access.require_participant(actor)
    body = _clean_body(body)
    _require_open(topic)
    if topic.closed_at is not None:
        raise ValidationFailed.single("topic", "This topic is closed to new answers.")
    profile = ensure_profile(actor)
    hold = _check_rate_and_links(actor, profile, body)
    with transaction.atomic():
        # Checked again on the locked row: a lock, close, merge or delete that committed
        # since ``topic`` was read must not let this answer in.
        current = _locked_topic(topic)
        _require_open(current)
        if current.closed_at is not None:
            raise ValidationFailed.single("topic", "This topic is closed to new answers.")
        post = _new_post(topic=topic, kind=Post.Kind.ANSWER, author=actor, body=body)
        Topic.objects.filter(pk=topic.pk).update(
            reply_count=F("reply_count") + 1,
            last_activity_at=post.created_at,
        )
        if post.is_official:
            Topic.objects.filter(pk=topic.pk).update(answered=True)
        if hold:
            _hold_for_review(post, reason="new account posting links")
        audit.record(actor=actor, action="community.reply.created", obj=post)
        events.emit(
            "community.reply.created",
            obj=post,
            actor=actor,
            data={"topic": str(topic.public_id), "official": post.is_official},
        )
        _timeline(
            user=actor,
            kind="community.answer",
            summary=f"Answered: {topic.title}",
            role="contributing",
            related=post,
        )
        award_badge(user=actor, slug="first-answer")
    return post


def comment(*, actor, post: Post, body: str) -> Post:
    """A comment on a question or answer; on others' posts it needs ``comment_everywhere``."""
    access.require_participant(actor)
    body = _clean_body(body)
    topic = post.topic
    _require_open(topic)
    if post.kind == Post.Kind.COMMENT or post.deleted_at is not None:
        raise ValidationFailed.single("post", "Comment on a question or an answer.")
    profile = ensure_profile(actor)
    own = post.author_id == actor.pk or topic.author_id == actor.pk
    if not own:
        access.require_privilege(actor, topic.space, "comment_everywhere", profile=profile)
    hold = _check_rate_and_links(actor, profile, body)
    with transaction.atomic():
        _require_open(_locked_topic(topic))  # as reply: the state as committed now
        new = _new_post(topic=topic, kind=Post.Kind.COMMENT, author=actor, body=body, parent=post)
        Topic.objects.filter(pk=topic.pk).update(last_activity_at=new.created_at)
        if hold:
            _hold_for_review(new, reason="new account posting links")
        audit.record(actor=actor, action="community.comment.created", obj=new)
        events.emit("community.comment.created", obj=new, actor=actor)
    return new


def edit_post(*, actor, post: Post, body: str, title: str | None = None) -> Post:
    """Edit a post (its author, or whoever holds ``edit_others``); keeps the old text."""
    access.require_participant(actor)
    topic = post.topic
    if post.deleted_at is not None or topic.deleted_at is not None:
        raise ValidationFailed.single("post", "This post was deleted.")
    if post.author_id != actor.pk:
        access.require_privilege(actor, topic.space, "edit_others")
    if topic.locked_at is not None and not access.is_moderator(actor, topic.space):
        raise ValidationFailed.single("topic", "This topic is locked.")
    body = _clean_body(body)
    if title is not None:
        if post.kind != Post.Kind.QUESTION:
            raise ValidationFailed.single("title", "Only the opening post carries the title.")
        title = _clean_title(title)
    if post.author_id == actor.pk and not access.is_staff(actor):
        _check_rate_links_only(actor, body)
    with transaction.atomic():
        locked = Post.objects.select_for_update().get(pk=post.pk)
        PostRevision.objects.create(
            post=locked,
            editor=actor,
            body=locked.body,
            title=topic.title if post.kind == Post.Kind.QUESTION else "",
        )
        locked.body = body
        locked.body_html = render_markdown(body)
        locked.edited_at = timezone.now()
        locked.save(update_fields=["body", "body_html", "edited_at", "updated_at"])
        if locked.kind == Post.Kind.QUESTION:
            if title is not None:
                Topic.objects.filter(pk=topic.pk).update(title=title)
                topic.title = title
            search.index_topic(topic, body=body)
        audit.record(actor=actor, action="community.post.edited", obj=locked)
        events.emit("community.post.edited", obj=locked, actor=actor)
    return locked


def _check_rate_links_only(user, body: str) -> None:
    rule = _rule_for(ensure_profile(user).trust_level)
    if rule is not None and count_links(body) and not rule.links_allowed:
        raise ValidationFailed.single(
            "body", "New members cannot post links yet; take part a little first."
        )


def delete_post(*, actor, post: Post) -> None:
    """The author or a moderator deletes a post (deleting the opening post deletes the topic)."""
    access.require_participant(actor)
    if post.author_id != actor.pk:
        access.require_moderator(actor, post.topic.space)
    if post.deleted_at is not None:
        return
    now = timezone.now()
    with transaction.atomic():
        # Conditional: of two deletes at once, one deletes (and moves the counter).
        if not Post.objects.filter(pk=post.pk, deleted_at__isnull=True).update(deleted_at=now):
            return
        if post.kind == Post.Kind.QUESTION:
            Topic.objects.filter(pk=post.topic_id).update(deleted_at=now)
            search.remove_topic(post.topic_id)
        elif post.kind == Post.Kind.ANSWER:
            Topic.objects.filter(pk=post.topic_id, reply_count__gt=0).update(
                reply_count=F("reply_count") - 1
            )
            _unaccept_deleted(post, actor=actor)
        audit.record(actor=actor, action="community.post.deleted", obj=post)
        events.emit("community.post.deleted", obj=post, actor=actor)


def _unaccept_deleted(answer: Post, *, actor) -> None:
    """Inside the deleting transaction: if ``answer`` was its topic's accepted answer,
    the topic (locked here) has none any more and the acceptance's points go back."""
    topic = Topic.objects.select_for_update().filter(pk=answer.topic_id).first()
    if topic is not None and topic.accepted_answer_id == answer.pk:
        _withdraw_acceptance(topic, actor=actor, reason="accepted answer deleted")


# ---------------------------------------------------------------- votes


def _vote_points(space: Space, post: Post, value: int) -> tuple[str, int] | None:
    if post.kind == Post.Kind.COMMENT:
        return None
    subject = "question" if post.kind == Post.Kind.QUESTION else "answer"
    action = f"{subject}_{'upvoted' if value > 0 else 'downvoted'}"
    return action, space.point(action)


def _day_start(now: dt.datetime) -> dt.datetime:
    """The start of ``now``'s day (UTC): the daily vote cap's day."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _earned_from_votes_today(user_id: int) -> int:
    """Points ``user_id`` earned from votes today, summed from the ledger (``_cast_vote``
    sums the same rows on PostgreSQL, in the vote's own statement)."""
    return (
        ReputationEvent.objects.filter(
            user_id=user_id,
            from_vote=True,
            created_at__gte=_day_start(timezone.now()),
            points__gt=0,
        ).aggregate(s=Sum("points"))["s"]
        or 0
    )


@dataclass
class VoteResult:
    post: Post
    value: int  # the voter's vote now: 1, -1 or 0 (none)
    score: int


# What a vote or its withdrawal reads of the locked profiles (see _lock_profiles).
_LOCKED_FIELDS = (
    "user",
    "reputation",
    "trust_level",
    "vote_points_on",
    "vote_points",
    "user__public_id",
    "user__person",
    "user__person__status",
)


def _lock_profiles(*user_ids: int) -> dict[int, MemberProfile]:
    """Lock the members' profiles (in user id order: no deadlock between two members voting
    on each other) and return them with their users and Persons, in one statement; rows
    missing are created first. Call inside the transaction.

    Only the columns a vote reads come back (the standing and the daily tally; the
    user's public id; the Person's status, for the timeline): building every column
    of three models was a third of the statement's cost. Any other field still loads
    when read, by a query of its own."""
    ids = sorted(set(user_ids))

    def locked() -> dict[int, MemberProfile]:
        rows = (
            MemberProfile.objects.select_for_update(of=("self",))
            .select_related("user__person")
            .only(*_LOCKED_FIELDS)
            .filter(user_id__in=ids)
            .order_by("user_id")
        )
        return {p.user_id: p for p in rows}

    profiles = locked()
    if len(profiles) < len(ids):
        MemberProfile.objects.bulk_create(
            [MemberProfile(user_id=i) for i in ids if i not in profiles], ignore_conflicts=True
        )
        profiles = locked()
    return profiles


def _insert_vote(
    *, post: Post, voter_id: int, author_id: int | None, value: int, now
) -> int | None:
    """INSERT the vote unless (post, voter) has one: its id, or None when one exists.

    One conditional statement (``ON CONFLICT DO NOTHING``) replaces read-then-insert: the
    unique constraint decides, so two concurrent votes by one person make one vote."""
    table = connection.ops.quote_name(Vote._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (post_id, voter_id, author_id, value, created_at) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (post_id, voter_id) DO NOTHING RETURNING id",
            [post.pk, voter_id, author_id, value, connection.ops.adapt_datetimefield_value(now)],
        )
        row = cursor.fetchone()
    return row[0] if row else None


@dataclass
class _Cast:
    """What ``_cast_vote`` wrote and read: the vote's id (None when (post, voter) had a
    vote already, and nothing was written), the post's new score, the voter's votes on
    this author in the last 24 hours with this one (None: not read), the points the
    author earned from votes today (None: not read), and whether the vote's ledger rows
    went in with it."""

    vote_id: int | None
    score: int | None = None
    recent: int | None = None
    earned_today: int | None = None
    ledger_written: bool = False


def _cast_vote(
    *,
    post: Post,
    voter_id: int,
    author_id: int | None,
    value: int,
    now: dt.datetime,
    space: Space,
    sum_earned: bool = False,
    ledger: _VoteLedger | None = None,
) -> _Cast:
    """Insert a new vote and move the post's score, unless (post, voter) has a vote.

    On PostgreSQL this is one statement (data-modifying CTEs): the conditional INSERT,
    the score's ``UPDATE … RETURNING`` (only when the INSERT wrote a row), the count
    serial-vote detection needs, ``ledger``'s rows and totals (written only with the
    vote, pointing at it) and, with ``sum_earned`` (the author's tally for the daily cap
    is not kept yet), the author's points from votes today: the rows
    ``_earned_from_votes_today`` sums. The reads see the statement's snapshot, which
    does not hold the new vote: hence the count's + 1 (and the author's profile is
    locked, so no other vote moves the sum meanwhile). Elsewhere it is the separate
    statements (the count, the sum and the ledger are then left to the caller)."""
    if connection.vendor != "postgresql":
        vote_id = _insert_vote(
            post=post, voter_id=voter_id, author_id=author_id, value=value, now=now
        )
        if vote_id is None:
            return _Cast(None)
        return _Cast(vote_id, _move_score(post, value))
    limit = space.point("serial_vote_limit")
    qn = connection.ops.quote_name
    votes = qn(Vote._meta.db_table)
    posts = qn(Post._meta.db_table)
    ctes = [
        f"v AS (INSERT INTO {votes} (post_id, voter_id, author_id, value, created_at) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (post_id, voter_id) DO NOTHING RETURNING id)",
        f"s AS (UPDATE {posts} SET score = score + %s "  # noqa: S608
        "WHERE id = %s AND EXISTS (SELECT 1 FROM v) RETURNING score)",
    ]
    selects = [
        "(SELECT id FROM v)",
        "(SELECT score FROM s)",
        f"(SELECT count(*) FROM (SELECT 1 FROM {votes} WHERE voter_id = %s "  # noqa: S608
        "AND author_id = %s AND created_at >= %s LIMIT %s) r)",
    ]
    cte_params: list[Any] = [post.pk, voter_id, author_id, value, now, value, post.pk]
    select_params: list[Any] = [voter_id, author_id, now - dt.timedelta(days=1), limit + 1]
    if sum_earned and author_id is not None:
        selects.append(
            f"(SELECT COALESCE(SUM(points), 0) FROM {qn(ReputationEvent._meta.db_table)} "  # noqa: S608
            "WHERE user_id = %s AND from_vote AND created_at >= %s AND points > 0)"
        )
        select_params += [author_id, _day_start(now)]
    else:
        selects.append("NULL")
    ledger_sql = None
    if ledger is not None and ledger.entries:
        ledger_sql = _ledger_sql(ledger.entries, also=ledger.tally, after_vote=True)
        ctes += ledger_sql.ctes
        cte_params += ledger_sql.params
        selects += ledger_sql.selects
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {', '.join(ctes)} SELECT {', '.join(selects)}", cte_params + select_params
        )
        row = cursor.fetchone()
    vote_id, score, earlier, earned_today = row[:4]
    if vote_id is None:
        return _Cast(None, earned_today=earned_today)
    if post.kind == Post.Kind.QUESTION:  # the opening post's score is the topic's too
        Topic.objects.filter(pk=post.topic_id).update(score=F("score") + value)
    if ledger_sql is not None:
        for entry in ledger.entries:
            entry.vote_id = vote_id
        _ledger_written(ledger.entries, ledger_sql, row[4:], also=ledger.tally)
    return _Cast(vote_id, score, earlier + 1, earned_today, ledger_written=ledger_sql is not None)


def _move_score(post: Post, by: int) -> int:
    """Add ``by`` to the post's score (and its topic's, for the opening post); the new score."""
    table = connection.ops.quote_name(Post._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET score = score + %s WHERE id = %s RETURNING score",  # noqa: S608
            [by, post.pk],
        )
        score = cursor.fetchone()[0]
    if post.kind == Post.Kind.QUESTION:
        Topic.objects.filter(pk=post.topic_id).update(score=F("score") + by)
    return score


def _capped(
    profile: MemberProfile,
    points: int,
    cap: int,
    today: dt.date,
    *,
    earned_today: int | None = None,
) -> int:
    """The part of ``points`` (from a vote) under the author's daily cap; moves the day's
    tally on the locked ``profile`` (saved by the caller's ledger update).
    ``earned_today``: the ledger's sum for today when the caller read it already."""
    if points <= 0:
        return points
    if profile.vote_points_on is None:
        # No tally yet (the first vote points ever): the ledger says what today holds.
        earned = (
            earned_today if earned_today is not None else _earned_from_votes_today(profile.user_id)
        )
    elif profile.vote_points_on != today:  # the first vote points today
        earned = 0
    else:
        earned = profile.vote_points
    points = max(0, min(points, cap - earned))
    profile.vote_points_on = today
    profile.vote_points = earned + points
    return points


@dataclass
class _VoteLedger:
    """A vote's ledger rows (unsaved, their vote not set yet) and the author's daily
    tally to save with them (``_write_ledger``'s ``also``)."""

    entries: list[ReputationEvent]
    tally: dict[int, dict[str, Any]] | None


def _vote_ledger(
    *,
    actor,
    post: Post,
    space: Space,
    value: int,
    author: MemberProfile,
    now: dt.datetime,
    earned_today: int | None = None,
) -> _VoteLedger:
    """What a vote by ``actor`` writes on the ledger: the author's points (under the
    daily cap, whose tally moves on the locked ``author`` profile) and, for a down-vote
    on an answer, the voter's cost. ``earned_today``: as ``_capped`` takes it."""
    action, points = _vote_points(space, post, value)
    full = points
    points = _capped(
        author, points, space.point("daily_vote_cap"), now.date(), earned_today=earned_today
    )
    entries = [
        _entry(
            user=author.user_id,
            space=space,
            action=action,
            points=points,
            post=post,
            actor=actor,
            from_vote=True,
            reason="" if points or not full else "daily cap reached",
        )
    ]
    if value < 0 and post.kind == Post.Kind.ANSWER:
        entries.append(
            _entry(
                user=actor.pk,
                space=space,
                action="downvote_cast",
                points=space.point("downvote_cast"),
                post=post,
                actor=actor,
            )
        )
    tally = None
    if author.vote_points_on == now.date():
        tally = {
            author.user_id: {
                "vote_points_on": author.vote_points_on,
                "vote_points": author.vote_points,
            }
        }
    return _VoteLedger(entries, tally)


def vote(*, actor, post: Post, value: int) -> VoteResult:
    """Cast (or change) ``actor``'s vote on ``post``: +1 or -1. One vote per person per post.

    The common case — a new vote — is a handful of statements: lock both profiles (read
    with them), insert the vote conditionally, move the score (read back by RETURNING),
    the ledger row(s) in one INSERT, the totals, serial-vote detection, one audit entry,
    one outbox event and the voter's timeline interaction.
    """
    access.require_participant(actor)
    if value not in (1, -1):
        raise ValidationFailed.single("value", "Either 1 or -1.")
    topic = post.topic
    space = topic.space
    if post.deleted_at is not None or topic.deleted_at is not None:
        raise ValidationFailed.single("post", "This post was deleted.")
    if topic.locked_at is not None:
        raise ValidationFailed.single("post", "This topic is locked; votes are closed.")
    if post.author_id == actor.pk:
        raise ValidationFailed.single("post", "You cannot vote on your own post.")
    author_id = post.author_id
    with transaction.atomic():
        profiles = _lock_profiles(actor.pk, *([author_id] if author_id else []))
        voter_profile = profiles[actor.pk]
        access.require_privilege(
            actor, space, "vote_up" if value > 0 else "vote_down", profile=voter_profile
        )
        now = timezone.now()
        author_profile = profiles.get(author_id) if author_id else None
        earned = _vote_points(space, post, value) if author_profile is not None else None
        # Without a tally of the author's vote points today, the daily cap needs the
        # ledger's sum first (read by the vote's statement); otherwise the ledger rows
        # are known before the vote and go in with it (on PostgreSQL).
        needs_sum = bool(earned and earned[1] > 0) and author_profile.vote_points_on is None
        ledger: _VoteLedger | None = None
        if earned and not needs_sum:
            ledger = _vote_ledger(
                actor=actor, post=post, space=space, value=value, author=author_profile, now=now
            )
        cast = _cast_vote(
            post=post,
            voter_id=actor.pk,
            author_id=author_id,
            value=value,
            now=now,
            space=space,
            sum_earned=needs_sum,
            ledger=ledger,
        )
        vote_id, score, recent = cast.vote_id, cast.score, cast.recent
        if vote_id is None:  # a vote exists: the same (nothing to do) or the other way
            existing = Vote.objects.get(post=post, voter=actor)
            if existing.value == value:
                score = Post.objects.values_list("score", flat=True).get(pk=post.pk)
                return VoteResult(post, value, score)
            _undo_vote(actor=actor, vote_row=existing, post=post, space=space)
            vote_id = _insert_vote(
                post=post, voter_id=actor.pk, author_id=author_id, value=value, now=now
            )
            score, recent = _move_score(post, value), None
        if earned and ledger is None:
            ledger = _vote_ledger(
                actor=actor,
                post=post,
                space=space,
                value=value,
                author=author_profile,
                now=now,
                earned_today=cast.earned_today,
            )
        entries = ledger.entries if ledger is not None else []
        if ledger is not None:
            if not cast.ledger_written:
                for entry in entries:
                    entry.vote_id = vote_id
                _write_ledger(entries, also=ledger.tally)
            _detect_serial_votes(
                actor=actor, author=author_profile.user, space=space, now=now, recent=recent
            )
        voter_party = _party_of(voter_profile.user)
        interaction = None
        if voter_party is not None:
            from kith.interactions import services as interaction_services

            interaction = interaction_services.mirror_interaction(
                actor=actor,
                party=voter_party,
                channel="community",
                kind="community.vote",
                summary=f"Voted {'up' if value > 0 else 'down'} on: {topic.title}",
                related=post,
                information_role="contributing",
            )
        audit.record(
            actor=actor,
            action="community.vote.cast",
            obj=post,
            changes={"value": value},
            party_id=getattr(voter_party, "pk", None),
        )
        events.emit(
            "community.vote.cast",
            obj=post,
            actor=actor,
            data={
                "value": value,
                "topic": str(topic.public_id),
                "points": sum(e.points for e in entries),
                "interaction": str(interaction.public_id) if interaction else None,
            },
        )
        if post.kind == Post.Kind.ANSWER and score >= 10 and author_profile is not None:
            award_badge(user=author_profile.user, slug="good-answer")
    return VoteResult(post, value, score)


def _undo_vote(*, actor, vote_row: Vote, post: Post, space: Space, reason: str = "vote undone"):
    """Reverse a vote's ledger rows, take it off the score and delete it; the points the
    post's author lost (or got back) by it."""
    entries = list(
        ReputationEvent.objects.filter(vote=vote_row, reverses__isnull=True, reversed=False)
    )
    _reverse(entries, actor=actor, reason=reason)
    _move_score(post, -vote_row.value)
    vote_row.delete()
    return -sum(e.points for e in entries if e.user_id == post.author_id)


def retract_vote(*, actor, post: Post) -> VoteResult:
    """Withdraw ``actor``'s vote: its points are reversed in the ledger, and the
    withdrawal (with the points it undid) lands on the voter's timeline."""
    access.require_participant(actor)
    topic = post.topic
    with transaction.atomic():
        profiles = _lock_profiles(actor.pk, *([post.author_id] if post.author_id else []))
        existing = Vote.objects.filter(post=post, voter=actor).first()
        if existing is None:
            raise NotFound("You have not voted on this post.")
        if topic.locked_at is not None:
            raise ValidationFailed.single("post", "This topic is locked; votes are closed.")
        value = existing.value
        moved = _undo_vote(actor=actor, vote_row=existing, post=post, space=topic.space)
        score = Post.objects.values_list("score", flat=True).get(pk=post.pk)
        voter_party = _party_of(profiles[actor.pk].user)
        direction = "up" if value > 0 else "down"
        points = f" ({moved:+d} reputation to its author)" if moved else ""
        interaction = None
        if voter_party is not None:
            from kith.interactions import services as interaction_services

            interaction = interaction_services.mirror_interaction(
                actor=actor,
                party=voter_party,
                channel="community",
                kind="community.vote_retracted",
                summary=f"Withdrew {direction}-vote on: {topic.title}{points}",
                related=post,
                information_role="contributing",
            )
        audit.record(
            actor=actor,
            action="community.vote.retracted",
            obj=post,
            changes={"value": value, "points": moved},
            party_id=getattr(voter_party, "pk", None),
        )
        events.emit(
            "community.vote.retracted",
            obj=post,
            actor=actor,
            data={
                "value": value,
                "points": moved,
                "topic": str(topic.public_id),
                "interaction": str(interaction.public_id) if interaction else None,
            },
        )
    return VoteResult(post, 0, score)


def _detect_serial_votes(
    *, actor, author, space: Space, now: dt.datetime, recent: int | None = None
) -> int:
    """Too many votes from one voter on one author in 24 hours: reverse their points.

    ``recent``: that count when the caller already read it (``_cast_vote``); under the
    limit nothing more is read."""
    limit = space.point("serial_vote_limit")
    if recent is not None and recent <= limit:
        return 0
    recent = Vote.objects.filter(
        voter=actor, author=author, created_at__gte=now - dt.timedelta(days=1)
    ).values_list("pk", flat=True)
    ids = list(recent[: limit + 500])
    if len(ids) <= limit:
        return 0
    moved = _reverse(
        ReputationEvent.objects.filter(
            vote_id__in=ids, user=author, reverses__isnull=True, reversed=False
        ),
        actor=None,
        reason="serial voting",
    )
    if moved:
        events.emit(
            "community.votes.reversed",
            obj=space,
            data={"voter": str(actor.public_id), "author": str(author.public_id), "points": moved},
        )
    return moved


# ---------------------------------------------------------------- accepted answers


def accept_answer(*, actor, answer: Post) -> Topic:
    """The asker (or a moderator) marks ``answer`` accepted; a previous one is un-accepted."""
    access.require_participant(actor)
    topic = answer.topic
    if topic.kind != Topic.Kind.QUESTION:
        raise ValidationFailed.single("answer", "Only questions have accepted answers.")
    if answer.kind != Post.Kind.ANSWER or answer.deleted_at is not None:
        raise ValidationFailed.single("answer", "Not an answer of this question.")
    if topic.author_id != actor.pk and not access.is_moderator(actor, topic.space):
        raise Forbidden("Only the asker or a moderator can accept an answer.")
    _require_open(topic, "answer")
    space = topic.space
    with transaction.atomic():
        locked = Topic.objects.select_for_update().get(pk=topic.pk)
        if locked.accepted_answer_id == answer.pk:
            return locked
        if locked.accepted_answer_id:
            _reverse_acceptance_points(locked, actor=actor, reason="another answer accepted")
        locked.accepted_answer = answer
        locked.answered = True
        locked.save(update_fields=["accepted_answer", "answered", "updated_at"])
        answerer = answer.author
        asker = locked.author
        earned = 0
        if answerer is not None and answerer.pk != (asker.pk if asker else None):
            earned = space.point("answer_accepted")
            _ledger(
                user=answerer,
                space=space,
                action="answer_accepted",
                points=space.point("answer_accepted"),
                post=answer,
                actor=actor,
            )
            if asker is not None and actor.pk == asker.pk:
                _ledger(
                    user=asker,
                    space=space,
                    action="accepted_an_answer",
                    points=space.point("accepted_an_answer"),
                    post=answer,
                    actor=actor,
                )
            award_badge(user=answerer, slug="first-accepted")
        audit.record(
            actor=actor,
            action="community.answer.accepted",
            obj=locked,
            changes={"answer": str(answer.public_id)},
        )
        events.emit(
            "community.answer.accepted",
            obj=locked,
            actor=actor,
            data={"answer": str(answer.public_id)},
        )
        if answerer is not None:
            _timeline(
                user=answerer,
                kind="community.answer_accepted",
                summary=f"Answer accepted: {locked.title}"
                + (f" ({earned:+d} reputation)" if earned else ""),
                role="contributing",
                related=answer,
            )
        if asker is not None and asker.pk == actor.pk:
            _timeline(
                user=asker,
                kind="community.accepted",
                summary=f"Accepted an answer: {locked.title}",
                role="seeking",
                related=answer,
            )
    return locked


def unaccept_answer(*, actor, topic: Topic) -> Topic:
    access.require_participant(actor)
    if topic.author_id != actor.pk and not access.is_moderator(actor, topic.space):
        raise Forbidden("Only the asker or a moderator can change the accepted answer.")
    with transaction.atomic():
        locked = Topic.objects.select_for_update().get(pk=topic.pk)
        if not locked.accepted_answer_id:
            return locked
        _withdraw_acceptance(locked, actor=actor, reason="acceptance withdrawn")
    return locked


def _reverse_acceptance_points(locked: Topic, *, actor, reason: str) -> None:
    """Reverse the points the acceptance of ``locked``'s current answer gave (to the
    answerer and to the asker)."""
    _reverse(
        ReputationEvent.objects.filter(
            post_id=locked.accepted_answer_id,
            action__in=["answer_accepted", "accepted_an_answer"],
            reverses__isnull=True,
            reversed=False,
        ),
        actor=actor,
        reason=reason,
    )


def _withdraw_acceptance(locked: Topic, *, actor, reason: str) -> None:
    """Clear ``locked``'s (a row locked by the caller) accepted answer and reverse the
    points the acceptance gave: when the asker withdraws it, and when the accepted
    answer is deleted or removed (a deleted post must not stay the topic's answer)."""
    _reverse_acceptance_points(locked, actor=actor, reason=reason)
    locked.accepted_answer = None
    locked.answered = Post.objects.filter(
        topic=locked, kind=Post.Kind.ANSWER, is_official=True, deleted_at__isnull=True
    ).exists()
    locked.save(update_fields=["accepted_answer", "answered", "updated_at"])
    audit.record(actor=actor, action="community.answer.unaccepted", obj=locked)
    events.emit("community.answer.unaccepted", obj=locked, actor=actor)


# ---------------------------------------------------------------- reading


def record_topic_view(*, user, topic: Topic, answers: list[Post]) -> None:
    """A topic was read: view count, posts read, today's visit, and — when it has an
    accepted or official answer — an information-seeking interaction (once a day)."""
    Topic.objects.filter(pk=topic.pk).update(view_count=F("view_count") + 1)
    if not access.is_logged_in(user):
        return
    now = timezone.now()
    with transaction.atomic():
        record_visit(user=user)
        PostRead.objects.bulk_create(
            [PostRead(user=user, post=p, created_at=now) for p in answers[:100]],
            ignore_conflicts=True,
        )
        best = next((p for p in answers if p.pk == topic.accepted_answer_id), None) or next(
            (p for p in answers if p.is_official), None
        )
        if best is not None and best.author_id != user.pk:
            _timeline(
                user=user,
                kind="community.answer_viewed",
                summary=f"Read the answer to: {topic.title}",
                role="seeking",
                related=best,
                external_id=f"view:{best.pk}:{user.pk}:{now.date().isoformat()}",
            )
            events.emit(
                "community.answer.viewed",
                obj=best,
                actor=user,
                data={"topic": str(topic.public_id)},
            )


# ---------------------------------------------------------------- moderation


def flag_post(*, actor, post: Post, reason: str, note: str = "") -> Flag:
    """Flag a post; enough flags from trusted members hide it until a moderator reviews."""
    access.require_participant(actor)
    topic = post.topic
    if reason not in Flag.Reason.values:
        raise ValidationFailed.single("reason", f"One of: {', '.join(Flag.Reason.values)}.")
    if post.author_id == actor.pk:
        raise ValidationFailed.single("post", "You cannot flag your own post.")
    if post.deleted_at is not None:
        raise ValidationFailed.single("post", "This post was deleted.")
    profile = ensure_profile(actor)
    access.require_privilege(actor, topic.space, "flag", profile=profile)
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                flag = Flag.objects.create(
                    post=post, flagger=actor, reason=reason, note=(note or "")[:500], created_at=now
                )
        except IntegrityError as exc:
            raise Conflict("You already flagged this post.") from exc
        locked = Post.objects.select_for_update().get(pk=post.pk)
        trusted = (
            Flag.objects.filter(post=post, outcome=Flag.Outcome.PENDING)
            .filter(
                Q(flagger__community_profile__trust_level__gte=TRUSTED_FLAGGER_LEVEL)
                | Q(flagger__kind="staff")
            )
            .count()
        )
        if locked.hidden_at is None and trusted >= topic.space.point("flags_to_hide"):
            locked.hidden_at = now
            locked.save(update_fields=["hidden_at", "updated_at"])
            if locked.kind == Post.Kind.QUESTION:
                Topic.objects.filter(pk=topic.pk).update(hidden_at=now)
            events.emit("community.post.hidden", obj=locked, data={"flags": trusted})
        audit.record(
            actor=actor, action="community.post.flagged", obj=post, changes={"reason": reason}
        )
        events.emit("community.post.flagged", obj=post, actor=actor, data={"reason": reason})
    return flag


def resolve_flags(*, actor, post: Post, remove: bool) -> Post:
    """A moderator reviews a flagged post: remove it (the author loses points) or restore it."""
    access.require_moderator(actor, post.topic.space)
    now = timezone.now()
    with transaction.atomic():
        locked = Post.objects.select_for_update().select_related("topic__space").get(pk=post.pk)
        pending = Flag.objects.filter(post=locked, outcome=Flag.Outcome.PENDING)
        pending.update(
            outcome=Flag.Outcome.REMOVED if remove else Flag.Outcome.DISMISSED,
            resolved_at=now,
            resolved_by=actor,
        )
        if remove:
            if locked.deleted_at is None:
                locked.deleted_at = now
                if locked.kind == Post.Kind.ANSWER:  # as delete_post does
                    Topic.objects.filter(pk=locked.topic_id, reply_count__gt=0).update(
                        reply_count=F("reply_count") - 1
                    )
                    _unaccept_deleted(locked, actor=actor)
                if locked.author is not None:
                    _ledger(
                        user=locked.author,
                        space=locked.topic.space,
                        action="post_flagged_removed",
                        points=locked.topic.space.point("post_flagged_removed"),
                        post=locked,
                        actor=actor,
                    )
            if locked.kind == Post.Kind.QUESTION:
                Topic.objects.filter(pk=locked.topic_id).update(deleted_at=now)
                search.remove_topic(locked.topic_id)
        else:
            locked.hidden_at = None
            if locked.kind == Post.Kind.QUESTION:
                Topic.objects.filter(pk=locked.topic_id).update(hidden_at=None)
        locked.save(update_fields=["deleted_at", "hidden_at", "updated_at"])
        audit.record(
            actor=actor,
            action="community.post.removed" if remove else "community.post.restored",
            obj=locked,
        )
        events.emit(
            "community.post.removed" if remove else "community.post.restored",
            obj=locked,
            actor=actor,
        )
    return locked


def set_locked(*, actor, topic: Topic, locked: bool) -> Topic:
    access.require_moderator(actor, topic.space)
    with transaction.atomic():
        row = Topic.objects.select_for_update().get(pk=topic.pk)
        row.locked_at = timezone.now() if locked else None
        row.save(update_fields=["locked_at", "updated_at"])
        name = "community.topic.locked" if locked else "community.topic.unlocked"
        audit.record(actor=actor, action=name, obj=row)
        events.emit(name, obj=row, actor=actor)
    return row


def set_closed(*, actor, topic: Topic, closed: bool) -> Topic:
    access.require_participant(actor)
    if not access.is_moderator(actor, topic.space):
        access.require_privilege(actor, topic.space, "close")
    with transaction.atomic():
        row = Topic.objects.select_for_update().get(pk=topic.pk)
        row.closed_at = timezone.now() if closed else None
        row.save(update_fields=["closed_at", "updated_at"])
        name = "community.topic.closed" if closed else "community.topic.reopened"
        audit.record(actor=actor, action=name, obj=row)
        events.emit(name, obj=row, actor=actor)
    return row


def move_topic(*, actor, topic: Topic, space: Space) -> Topic:
    access.require_moderator(actor, topic.space)
    access.require_moderator(actor, space)
    if space.pk not in access.visible_space_ids(actor):
        raise NotFound("No such space.")
    with transaction.atomic():
        row = Topic.objects.select_for_update().get(pk=topic.pk)
        before = row.space_id
        row.space = space
        row.save(update_fields=["space", "updated_at"])
        audit.record(
            actor=actor,
            action="community.topic.moved",
            obj=row,
            changes={"space": [before, space.pk]},
        )
        events.emit("community.topic.moved", obj=row, actor=actor, data={"space": space.slug})
    return row


def merge_topics(*, actor, source: Topic, target: Topic) -> Topic:
    """Merge a duplicate: its answers and comments move to ``target``, it points there."""
    access.require_moderator(actor, source.space)
    access.require_moderator(actor, target.space)
    if source.pk == target.pk:
        raise ValidationFailed.single("target", "A topic cannot be merged into itself.")
    if target.merged_into_id or target.deleted_at:
        raise ValidationFailed.single("target", "That topic was merged or deleted.")
    with transaction.atomic():
        rows = {
            t.pk: t
            for t in Topic.objects.select_for_update()
            .filter(pk__in=[source.pk, target.pk])
            .order_by("pk")
        }
        src, dst = rows[source.pk], rows[target.pk]
        # Checked again on the locked rows: a merge committed since the caller read its
        # copies (the opposite merge, or this source elsewhere) must not make a cycle.
        if src.merged_into_id or src.deleted_at:
            raise ValidationFailed.single("source", "This topic was merged or deleted.")
        if dst.merged_into_id or dst.deleted_at:
            raise ValidationFailed.single("target", "That topic was merged or deleted.")
        moved = Post.objects.filter(topic=src).exclude(kind=Post.Kind.QUESTION)
        answers = moved.filter(kind=Post.Kind.ANSWER, deleted_at__isnull=True).count()
        # Comments on the source's opening post follow it as comments on the target's.
        target_question = Post.objects.filter(topic=dst, kind=Post.Kind.QUESTION).first()
        Post.objects.filter(
            topic=src, kind=Post.Kind.COMMENT, parent__kind=Post.Kind.QUESTION
        ).update(parent=target_question)
        moved.update(topic=dst)
        dst.reply_count = F("reply_count") + answers
        dst.last_activity_at = timezone.now()
        dst.answered = dst.answered or src.answered
        dst.save(update_fields=["reply_count", "last_activity_at", "answered", "updated_at"])
        src.merged_into = dst
        src.reply_count = 0
        src.save(update_fields=["merged_into", "reply_count", "updated_at"])
        search.remove_topic(src.pk)
        audit.record(
            actor=actor,
            action="community.topic.merged",
            obj=src,
            changes={"into": str(dst.public_id), "answers": answers},
        )
        events.emit(
            "community.topic.merged", obj=src, actor=actor, data={"into": str(dst.public_id)}
        )
    dst.refresh_from_db()
    return dst


# ---------------------------------------------------------------- trust levels


@dataclass
class Activity:
    days_visited: int = 0
    posts_read: int = 0
    replies: int = 0
    likes_given: int = 0
    likes_received: int = 0
    flags_against: int = 0


def activity_of(user, *, window_days: int) -> Activity:
    since = timezone.now() - dt.timedelta(days=window_days)
    return Activity(
        days_visited=Visit.objects.filter(user=user, day__gte=since.date()).count(),
        posts_read=PostRead.objects.filter(user=user, created_at__gte=since).count(),
        replies=Post.objects.filter(
            author=user, kind=Post.Kind.ANSWER, created_at__gte=since, deleted_at__isnull=True
        ).count(),
        likes_given=Vote.objects.filter(voter=user, value=1, created_at__gte=since).count(),
        likes_received=Vote.objects.filter(author=user, value=1, created_at__gte=since).count(),
        flags_against=Flag.objects.filter(
            post__author=user, outcome=Flag.Outcome.REMOVED, created_at__gte=since
        ).count(),
    )


def earned_level(user, rules: list[TrustLevelRule]) -> int:
    """The highest level whose requirements — and those of every level below — are met."""
    level = 0
    cache: dict[int, Activity] = {}
    for rule in sorted(rules, key=lambda r: r.level):
        act = cache.get(rule.window_days)
        if act is None:
            act = cache[rule.window_days] = activity_of(user, window_days=rule.window_days)
        meets = (
            act.days_visited >= rule.min_days_visited
            and act.posts_read >= rule.min_posts_read
            and act.replies >= rule.min_replies
            and act.likes_given >= rule.min_likes_given
            and act.likes_received >= rule.min_likes_received
            and act.flags_against <= rule.max_flags_against
        )
        if not meets:
            break
        level = rule.level
    return level


def recompute_trust_level(*, user) -> tuple[int, int]:
    """Promote or demote ``user`` to the level their recent activity earns; (old, new)."""
    rules = list(TrustLevelRule.objects.all())
    profile = ensure_profile(user)
    if profile.trust_locked:
        return profile.trust_level, profile.trust_level
    new = earned_level(user, rules)
    with transaction.atomic():
        locked = MemberProfile.objects.select_for_update().get(pk=profile.pk)
        old = locked.trust_level
        if locked.trust_locked:  # pinned by a moderator since it was read above
            return old, old
        locked.trust_level = new
        locked.trust_computed_at = timezone.now()
        locked.save(update_fields=["trust_level", "trust_computed_at"])
        if new != old:
            audit.record(
                actor=None,
                action="community.trust.changed",
                obj=locked,
                changes={"trust_level": [old, new]},
                party_id=getattr(_party_of(user), "pk", None),
            )
            events.emit(
                "community.trust.changed",
                obj=locked,
                data={"user": str(user.public_id), "from": old, "to": new},
            )
            if new >= 2:
                award_badge(user=user, slug="trusted")
            if new >= 3:
                award_badge(user=user, slug="regular")
    if hasattr(user, "_community_profile"):
        del user._community_profile
    return old, new


def recompute_trust_levels() -> int:
    """Every member with a profile; returns how many levels changed (the periodic task)."""
    from django.contrib.auth import get_user_model

    changed = 0
    users = get_user_model().objects.filter(
        community_profile__isnull=False, community_profile__trust_locked=False, is_active=True
    )
    for user in users.iterator(chunk_size=500):
        old, new = recompute_trust_level(user=user)
        changed += int(old != new)
    return changed


def set_trust_level(*, actor, user, level: int, locked: bool = True) -> MemberProfile:
    """A moderator pins a member's level (or unpins it with ``locked=False``)."""
    if not access.is_staff_writer(actor):
        raise Forbidden("Only staff set trust levels by hand.")
    if not TrustLevelRule.objects.filter(level=level).exists():
        raise ValidationFailed.single("level", "No such trust level.")
    profile = ensure_profile(user)
    with transaction.atomic():
        row = MemberProfile.objects.select_for_update().get(pk=profile.pk)
        old = row.trust_level
        row.trust_level = level
        row.trust_locked = locked
        row.save(update_fields=["trust_level", "trust_locked"])
        audit.record(
            actor=actor,
            action="community.trust.set",
            obj=row,
            changes={"trust_level": [old, level], "locked": locked},
        )
        events.emit(
            "community.trust.changed", obj=row, actor=actor, data={"from": old, "to": level}
        )
    return row


_RULE_INTS = (
    "window_days",
    "min_days_visited",
    "min_posts_read",
    "min_replies",
    "min_likes_given",
    "min_likes_received",
    "max_flags_against",
    "posts_per_day",
)


def update_trust_rule(*, actor, level: int, changes: dict) -> TrustLevelRule:
    """Admins tune what earns a trust level and what it allows (data, not code)."""
    access.require_admin(actor)
    rule = TrustLevelRule.objects.filter(level=level).first()
    if rule is None:
        raise NotFound("No such trust level.")
    errors = []
    for key, value in changes.items():
        if key in _RULE_INTS:
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100_000:
                errors.append(FieldError(key, "A whole number between 0 and 100000."))
            elif key == "window_days" and value < 1:
                errors.append(FieldError(key, "At least 1 day."))
        elif key == "name":
            if not isinstance(value, str) or not 1 <= len(value.strip()) <= 40:
                errors.append(FieldError(key, "Between 1 and 40 characters."))
        elif key == "links_allowed":
            if not isinstance(value, bool):
                errors.append(FieldError(key, "true or false."))
        else:
            errors.append(FieldError(key, "Unknown setting."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        row = TrustLevelRule.objects.select_for_update().get(pk=rule.pk)
        before = {k: getattr(row, k) for k in changes}
        for key, value in changes.items():
            setattr(row, key, value.strip() if isinstance(value, str) else value)
        row.save()
        audit.record(
            actor=actor,
            action="community.trust_rule.changed",
            obj=row,
            changes=audit.diff(before, changes),
        )
        events.emit("community.trust_rule.changed", obj=row, actor=actor)
    return row


# ---------------------------------------------------------------- a solved case → public Q&A


def publish_case_as_topic(
    *,
    actor,
    case,
    space: Space,
    title: str,
    question: str,
    answer: str,
    redact: list[str] | None = None,
) -> Topic:
    """Publish a solved case as a question with an accepted official answer.

    ``redact`` lists the personal data the agent chose to remove; e-mail addresses and
    phone numbers that remain refuse the publication (naming the field).
    """
    from kith.service.models import Status as CaseStatus

    from . import redaction

    if not access.is_staff_writer(actor):
        raise Forbidden("Only staff with a writing role publish cases.")
    if case.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        raise ValidationFailed.single("case", "Only a solved case can be published.")
    if space.pk not in access.visible_space_ids(actor):
        raise ValidationFailed.single("space", "No such space.")
    values = list(redact or [])
    title = redaction.redact(title or "", values)
    question = redaction.redact(question or "", values)
    answer = redaction.redact(answer or "", values)
    errors = []
    for field_name, text in (("title", title), ("question", question), ("answer", answer)):
        left = [f.value for f in redaction.find_personal_data(text) if f.kind in ("email", "phone")]
        if left:
            errors.append(
                FieldError(field_name, f"Still contains personal data: {', '.join(left)}.")
            )
    if not answer.strip():
        errors.append(FieldError("answer", "This field is required."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        topic = create_topic(actor=actor, space=space, title=title, body=question or title)
        post = reply(actor=actor, topic=topic, body=answer)
        accept_answer(actor=actor, answer=post)
        audit.record(
            actor=actor,
            action="community.topic.published_from_case",
            obj=topic,
            changes={"case": str(case.public_id), "redacted": len(values)},
        )
        events.emit(
            "community.topic.published_from_case",
            obj=topic,
            actor=actor,
            data={"case": str(case.public_id)},
        )
    topic.refresh_from_db()
    return topic
