"""Listening's writes: sources and keywords, the ingest of a batch, the queue's actions.

``ingest(source, items)`` is the one entry point every source kind feeds (the poller,
the webhook, bulk upload, the Redis Stream consumer): it runs the pipeline's steps
(``kith.listening.pipeline``) and stores a batch in one transaction. Idempotency rests
on the unique constraint over (source, external_id): rows are inserted with
``ignore_conflicts`` and the ones this call created are read back by the public ids it
chose, so two workers racing on the same item store it once and report it once.

Queue actions lock the mention row (``select_for_update``) and check its status before
writing, so two agents acting at once cannot both reply, convert or assign it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from kith.core import audit, events
from kith.core.errors import Conflict, FieldError, ValidationFailed
from kith.interactions.models import Channel, Interaction
from kith.listening import access, pipeline
from kith.listening import sources as kinds
from kith.listening.incoming import IncomingMention
from kith.listening.models import (
    OPEN_STATUSES,
    ConvertedKind,
    Keyword,
    Mention,
    MentionStatus,
    Source,
    SourceKind,
)

logger = logging.getLogger(__name__)

# One transaction stores at most this many mentions (bigger batches are split).
CHUNK = 500
MAX_NAME = 200
INTERACTION_SOURCE = "listening"
# How close the poller may schedule a source (seconds).
MIN_POLL_INTERVAL = 60
MAX_POLL_INTERVAL = 7 * 24 * 3600


def _now(at: dt.datetime | None = None) -> dt.datetime:
    return at or timezone.now()


def _actor(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


# ---------------------------------------------------------------- sources


def _check_source_fields(
    values: dict[str, Any], *, creating: bool
) -> tuple[dict[str, Any], list[FieldError]]:
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if creating or "kind" in values:
        kind = values.get("kind")
        if kind not in SourceKind.values:
            errors.append(FieldError("kind", f"One of: {', '.join(SourceKind.values)}."))
        else:
            out["kind"] = kind
    if creating or "name" in values:
        name = " ".join(str(values.get("name") or "").split())
        if not name:
            errors.append(FieldError("name", "This field is required."))
        elif len(name) > MAX_NAME:
            errors.append(FieldError("name", f"At most {MAX_NAME} characters."))
        else:
            out["name"] = name
    if "config" in values:
        if not isinstance(values["config"], dict):
            errors.append(FieldError("config", "Must be a JSON object."))
        elif len(str(values["config"])) > 10_000:
            errors.append(FieldError("config", "At most 10,000 characters."))
        else:
            out["config"] = values["config"]
    if "poll_interval_seconds" in values:
        try:
            interval = int(values["poll_interval_seconds"])
        except (TypeError, ValueError):
            interval = -1
        if not MIN_POLL_INTERVAL <= interval <= MAX_POLL_INTERVAL:
            errors.append(
                FieldError(
                    "poll_interval_seconds",
                    f"Between {MIN_POLL_INTERVAL} and {MAX_POLL_INTERVAL} seconds.",
                )
            )
        else:
            out["poll_interval_seconds"] = interval
    if "first_response_minutes" in values:
        try:
            minutes = int(values["first_response_minutes"])
        except (TypeError, ValueError):
            minutes = 0
        if not 1 <= minutes <= 60 * 24 * 30:
            errors.append(FieldError("first_response_minutes", "Between 1 and 43,200 minutes."))
        else:
            out["first_response_minutes"] = minutes
    if "enabled" in values:
        out["enabled"] = bool(values["enabled"])
    if "queue" in values:
        out["queue"] = values["queue"]  # a Queue or None, resolved by the caller
    return out, errors


def _config_errors(values: dict[str, Any], kind: str, config: Any) -> list[FieldError]:
    """Check ``config`` with the kind's own validator (``config.<key>`` errors); on
    success the cleaned config replaces ``values["config"]``."""
    try:
        values["config"] = kinds.validate_config(kind, config)
    except ValidationFailed as exc:
        return list(exc.errors) or [FieldError("config", exc.message)]
    return []


def _shown(source: Source, key: str, value: Any) -> Any:
    """A source field as the audit log may keep it: the config with its secrets masked."""
    return kinds.redacted(source.kind, value) if key == "config" else value


@dataclass
class NewSource:
    source: Source
    # Shown once, to the admin who created (or rotated) a webhook source; never stored.
    webhook_secret: str = ""


def webhook_secret(source: Source) -> str:
    """The signing secret of a webhook source: HMAC(SECRET_KEY, salt), never stored.

    A copy of the database alone cannot sign requests; rotating the salt (or the site's
    SECRET_KEY) retires the old secret.
    """
    if not source.webhook_salt:
        return ""
    mac = hmac.new(
        settings.SECRET_KEY.encode(),
        f"kith.listening.webhook:{source.public_id}:{source.webhook_salt}".encode(),
        hashlib.sha256,
    ).digest()
    return "whsec_" + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def create_source(*, actor, data: dict[str, Any]) -> NewSource:
    """Create a source (admins and managers); a webhook source gets its secret, shown once."""
    access.require_configure(actor)
    values, errors = _check_source_fields(data, creating=True)
    if "kind" in values and not any(e.field == "config" for e in errors):
        errors += _config_errors(values, values["kind"], values.get("config", {}))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        source = Source(owner=_actor(actor), **values)
        if source.kind in (SourceKind.FEED, SourceKind.MASTODON):
            source.next_poll_at = timezone.now()
        if source.kind == SourceKind.WEBHOOK:
            source.webhook_salt = secrets.token_hex(16)
        source.save()
        if _actor(actor):
            source.followers.add(actor)
        audit.record(
            actor=actor,
            action="listening.source_created",
            obj=source,
            changes={"kind": source.kind, "name": source.name},
        )
        events.emit("listening_source.created", obj=source, actor=actor, data={"kind": source.kind})
    return NewSource(source=source, webhook_secret=webhook_secret(source))


def update_source(*, actor, source: Source, data: dict[str, Any]) -> Source:
    access.require_configure(actor)
    data = {k: v for k, v in data.items() if k != "kind"}  # a source's kind is fixed
    values, errors = _check_source_fields(data, creating=False)
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        locked = Source.objects.select_for_update().get(pk=source.pk)
        if "config" in values:
            # A secret sent back masked (or left out) keeps the stored one.
            values["config"] = kinds.merge_secrets(
                locked.kind, values["config"], locked.config or {}
            )
            errors = _config_errors(values, locked.kind, values["config"])
            if errors:
                raise ValidationFailed(errors=errors)
        before = {k: _shown(locked, k, getattr(locked, k)) for k in values}
        for key, value in values.items():
            setattr(locked, key, value)
        if values.get("enabled") and locked.status == Source.Status.ERROR:
            # Re-enabling after an error: try again now rather than after the back-off.
            locked.next_poll_at = timezone.now()
        locked.save()
        audit.record(
            actor=actor,
            action="listening.source_updated",
            obj=locked,
            changes=audit.diff(before, {k: _shown(locked, k, getattr(locked, k)) for k in values}),
        )
    return locked


def rotate_webhook_secret(*, actor, source: Source) -> NewSource:
    access.require_configure(actor)
    if source.kind != SourceKind.WEBHOOK:
        raise ValidationFailed.single("kind", "Only webhook sources have a secret.")
    with transaction.atomic():
        Source.objects.filter(pk=source.pk).update(webhook_salt=secrets.token_hex(16))
        source.refresh_from_db()
        audit.record(actor=actor, action="listening.secret_rotated", obj=source)
    return NewSource(source=source, webhook_secret=webhook_secret(source))


def delete_source(*, actor, source: Source) -> None:
    """Delete a source with its mentions (their timeline entries stay, unlinked)."""
    access.require_configure(actor)
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="listening.source_deleted",
            obj=source,
            changes={"name": source.name, "mentions": source.mention_count},
        )
        source.delete()


# ---------------------------------------------------------------- keywords


def create_keyword(*, actor, term: str, is_competitor: bool = False) -> Keyword:
    access.require_configure(actor)
    shown, normalized = _check_term(term)
    with transaction.atomic():
        if Keyword.objects.filter(normalized=normalized).exists():
            raise ValidationFailed.single("term", "That keyword is tracked already.")
        try:
            # Two admins adding the same term at once: the unique index decides.
            with transaction.atomic():
                keyword = Keyword.objects.create(
                    term=shown, normalized=normalized, is_competitor=bool(is_competitor)
                )
        except IntegrityError:
            raise ValidationFailed.single("term", "That keyword is tracked already.") from None
        if _actor(actor):
            keyword.followers.add(actor)
        audit.record(actor=actor, action="listening.keyword_created", obj=keyword)
    return keyword


def _check_term(term: Any) -> tuple[str, str]:
    """(shown, normalized) of a keyword's term, or ValidationFailed on ``term``."""
    shown = " ".join(str(term or "").split())
    normalized = pipeline.normalise_term(shown)
    if not normalized:
        raise ValidationFailed.single("term", "This field is required.")
    if len(shown) > 100:
        raise ValidationFailed.single("term", "At most 100 characters.")
    return shown, normalized


def update_keyword(*, actor, keyword: Keyword, data: dict[str, Any]) -> Keyword:
    """Rename a keyword, mark it a competitor or not, pause or resume it.

    A new term applies to mentions received from now on (stored ones keep the terms
    they were tagged with)."""
    access.require_configure(actor)
    term = _check_term(data["term"]) if "term" in data else None
    with transaction.atomic():
        locked = Keyword.objects.select_for_update().get(pk=keyword.pk)
        before = {
            "term": locked.term,
            "is_competitor": locked.is_competitor,
            "active": locked.active,
        }
        if term is not None:
            shown, normalized = term
            if Keyword.objects.filter(normalized=normalized).exclude(pk=locked.pk).exists():
                raise ValidationFailed.single("term", "That keyword is tracked already.")
            locked.term, locked.normalized = shown, normalized
        if "is_competitor" in data:
            locked.is_competitor = bool(data["is_competitor"])
        if "active" in data:
            locked.active = bool(data["active"])
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise ValidationFailed.single("term", "That keyword is tracked already.") from None
        after = {
            "term": locked.term,
            "is_competitor": locked.is_competitor,
            "active": locked.active,
        }
        audit.record(
            actor=actor,
            action="listening.keyword_updated",
            obj=locked,
            changes=audit.diff(before, after),
        )
    return locked


def delete_keyword(*, actor, keyword: Keyword) -> None:
    access.require_configure(actor)
    with transaction.atomic():
        audit.record(actor=actor, action="listening.keyword_deleted", obj=keyword)
        keyword.delete()


# ---------------------------------------------------------------- ingest


@dataclass
class IngestResult:
    """What a batch came to: new rows, duplicates of stored ones, copies, refusals."""

    created: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    matched: int = 0
    rejected: list[pipeline.Rejection] = field(default_factory=list)
    mention_ids: list[int] = field(default_factory=list)

    def merge(self, other: IngestResult) -> None:
        self.created += other.created
        self.duplicates += other.duplicates
        self.near_duplicates += other.near_duplicates
        self.matched += other.matched
        self.rejected += other.rejected
        self.mention_ids += other.mention_ids

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "near_duplicates": self.near_duplicates,
            "matched": self.matched,
            "rejected": [
                {
                    "index": r.index,
                    "external_id": r.external_id,
                    "field": r.field,
                    "reason": r.reason,
                }
                for r in self.rejected
            ],
        }


def _existing_ids(source: Source):
    def lookup(ids: list[str]) -> set[str]:
        return set(
            Mention.objects.filter(source=source, external_id__in=ids).values_list(
                "external_id", flat=True
            )
        )

    return lookup


def _existing_fingerprints(fingerprints: list[str]) -> dict[str, int]:
    """The oldest original stored under each fingerprint (copies point at originals)."""
    found: dict[str, int] = {}
    rows = (
        Mention.objects.filter(fingerprint__in=fingerprints, duplicate_of__isnull=True)
        .order_by("id")
        .values_list("fingerprint", "id")
    )
    for fp, pk in rows:
        found.setdefault(fp, pk)
    return found


def _contact_lookup(channel: str, values: list[str]) -> dict[str, int]:
    from kith.people.models import ContactPoint, Party

    # Two index lookups, not one join: the join's plan depends on the planner's row
    # estimates, and with stale statistics (a freshly loaded table) PostgreSQL chose a
    # nested loop over every active person per contact (measured: 45 s per batch of 500).
    rows = dict(
        ContactPoint.objects.filter(channel=channel, normalized__in=values).values_list(
            "normalized", "party_id"
        )
    )
    if not rows:
        return {}
    people = set(
        Party.objects.filter(
            pk__in=set(rows.values()), kind=Party.Kind.PERSON, status=Party.Status.ACTIVE
        ).values_list("pk", flat=True)
    )
    return {value: pk for value, pk in rows.items() if pk in people}


# The identity-resolution service scores one author per call (Splink): ask it about at
# most this many distinct unmatched authors per batch, and believe it only when sure.
IDENTITY_MAX_PER_BATCH = 20
IDENTITY_MIN_PROBABILITY = 0.95


def _identity_resolver():
    """A resolve(channel, value, name) over kith.people's identity resolution, or None.

    None when that service is absent or has no trained model yet: without a model it
    only repeats the exact contact match ``_contact_lookup`` already made.
    """
    try:
        from kith.people.identity import service as identity
    except ImportError:
        return None
    if identity.active_model() is None:
        return None
    budget = [IDENTITY_MAX_PER_BATCH]

    def resolve(channel: str, value: str, name: str) -> int | None:
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        if channel == "email":
            found = identity.match_candidates(email=value, name=name, limit=1)
        else:
            found = identity.match_candidates(handle=value, name=name, limit=1)
        if found and found[0].probability >= IDENTITY_MIN_PROBABILITY:
            return found[0].party.pk
        return None

    return resolve


def _influence_scores(person_ids: Iterable[int]) -> dict[int, float]:
    """kith.insights' influence score per person, when that app answers it."""
    ids = [i for i in person_ids if i]
    if not ids:
        return {}
    try:
        from kith.insights.queries import influence_score
    except ImportError:
        return {}
    return influence_score(ids)


def _keyword_matcher() -> pipeline.KeywordMatcher:
    return pipeline.KeywordMatcher(
        Keyword.objects.filter(active=True).values_list("normalized", flat=True)
    )


_INTERACTION_CHANNELS = {
    "email": Channel.EMAIL,
    "case_mail": Channel.EMAIL,
    "mail": Channel.EMAIL,
    "community": Channel.COMMUNITY,
    "rss": Channel.WEB,
    "feed": Channel.WEB,
    "web": Channel.WEB,
}


def enrich(
    source: Source, items: Sequence[IncomingMention], *, now: dt.datetime | None = None
) -> tuple[list[pipeline.Prepared], IngestResult]:
    """Every pipeline step up to storage, for one batch (reads the database, writes nothing)."""
    now = _now(now)
    result = IngestResult()
    prepared, result.rejected = pipeline.normalise(items, now=now)
    prepared, result.duplicates = pipeline.drop_exact_duplicates(prepared, _existing_ids(source))
    result.near_duplicates = pipeline.mark_near_duplicates(prepared, _existing_fingerprints)
    texts = [p.item.text for p in prepared]
    languages = pipeline.detect_languages(texts, [p.item.language_hint for p in prepared])
    sentiments = pipeline.score_sentiment(texts)
    for p, lang, (label, conf) in zip(prepared, languages, sentiments, strict=True):
        p.language = lang
        p.sentiment_label, p.sentiment_confidence = label, conf
    pipeline.tag_keywords_and_topics(prepared, _keyword_matcher())
    result.matched = pipeline.match_authors(prepared, _contact_lookup, _identity_resolver())
    return prepared, result


def ingest(
    source: Source,
    items: Sequence[IncomingMention],
    *,
    now: dt.datetime | None = None,
) -> IngestResult:
    """Run a batch through the pipeline and store it; returns the counts.

    Safe to repeat: items already stored under (source, external_id) count as
    duplicates and change nothing. Batches over ``CHUNK`` items are stored in chunks,
    each its own transaction.
    """
    total = IngestResult()
    items = list(items)
    for start in range(0, len(items), CHUNK) or [0]:
        chunk = items[start : start + CHUNK]
        part = _ingest_chunk(source, chunk, now=now)
        for r in part.rejected:
            r_index = r.index + start
            total.rejected.append(pipeline.Rejection(r_index, r.external_id, r.field, r.reason))
        part.rejected = []
        total.merge(part)
    return total


def _ingest_chunk(
    source: Source, items: Sequence[IncomingMention], *, now: dt.datetime | None
) -> IngestResult:
    now = _now(now)
    prepared, result = enrich(source, items, now=now)
    if not prepared:
        return result
    infl_scores = _influence_scores({p.person_id for p in prepared if p.person_id})
    due = now + dt.timedelta(minutes=source.first_response_minutes)
    rows: list[Mention] = []
    mirrors = (
        _mirrored_records([p.item.raw for p in prepared])
        if source.kind in (SourceKind.COMMUNITY, SourceKind.CASE_MAIL)
        else {}
    )
    for pos, p in enumerate(prepared):
        it = p.item
        neg = pipeline.negativity(p.sentiment_label, p.sentiment_confidence)
        infl = pipeline.influence(it.author_followers, infl_scores.get(p.person_id))
        rank = pipeline.priority_rank(neg, infl, it.published_at)
        open_ = not p.is_near_duplicate
        rows.append(
            Mention(
                public_id=uuid.uuid4(),
                source=source,
                external_id=it.external_id,
                channel=it.channel,
                text=it.text,
                url=it.url,
                published_at=it.published_at,
                received_at=now,
                author_handle=it.author_handle,
                author_name=it.author_name,
                author_url=it.author_url,
                author_followers=it.author_followers,
                in_reply_to=it.in_reply_to,
                language=p.language,
                sentiment_label=p.sentiment_label,
                sentiment_confidence=p.sentiment_confidence,
                sentiment_score=p.sentiment_score,
                keywords=p.keywords,
                hashtags=p.hashtags,
                topic=p.topic,
                fingerprint=p.fingerprint,
                duplicate_of_id=p.duplicate_of_id,
                person_id=p.person_id,
                # A copy of another post is stored (it counts in volume) but needs no
                # answer of its own: it leaves the queue as dismissed.
                status=MentionStatus.NEW if open_ else MentionStatus.DISMISSED,
                priority=pipeline.priority_at(rank, now),
                priority_at=now,
                rank=rank,
                first_response_due=due if open_ else None,
                raw=it.raw,
                related_type_id=mirrors.get(pos, (None, None))[0],
                related_id=mirrors.get(pos, (None, None))[1],
            )
        )
    with transaction.atomic():
        Mention.objects.bulk_create(rows, ignore_conflicts=True)
        ours = {m.public_id: m for m in rows}
        stored = list(
            Mention.objects.filter(public_id__in=list(ours)).values_list("public_id", "id")
        )
        created_ids = {pid: pk for pid, pk in stored}
        # A race lost to another worker: those items were stored by it, not by us.
        result.duplicates += len(rows) - len(created_ids)
        by_pos: dict[int, Mention] = {}
        for pos, m in enumerate(rows):
            if m.public_id in created_ids:
                m.pk = m.id = created_ids[m.public_id]
                by_pos[pos] = m
        # Copies within the batch point at the original stored with them.
        fix = []
        for pos, p in enumerate(prepared):
            m = by_pos.get(pos)
            if m is None or p.duplicate_of_index is None or p.duplicate_of_id is not None:
                continue
            original = by_pos.get(p.duplicate_of_index)
            if original is not None:
                m.duplicate_of_id = original.pk
                fix.append(m)
        if fix:
            _set_column("duplicate_of_id", {m.pk: m.duplicate_of_id for m in fix})
        created = list(by_pos.values())
        result.created = len(created)
        result.mention_ids = [m.pk for m in created]
        result.matched = sum(1 for m in created if m.person_id)
        if created:
            _assign_new(source, [m for m in created if m.status == MentionStatus.NEW], now)
            _mirror_on_timelines(source, [m for m in created if m.person_id])
            Source.objects.filter(pk=source.pk).update(
                mention_count=F("mention_count") + len(created)
            )
            audit.record(
                actor=None,
                action="listening.ingested",
                obj=source,
                changes={
                    "created": result.created,
                    "duplicates": result.duplicates,
                    "near_duplicates": result.near_duplicates,
                    "matched": result.matched,
                },
            )
            events.emit_batch(
                "mention.received",
                object_type="listening.mention",
                items=[
                    events.BatchItem(
                        m.pk,
                        m.public_id,
                        {"sentiment": m.sentiment_label, "priority": m.priority},
                    )
                    for m in created
                ],
                data={"source": str(source.public_id), "channel": source.kind},
            )
            matched = [m for m in created if m.person_id]
            if matched:
                events.emit_batch(
                    "mention.matched",
                    object_type="listening.mention",
                    items=[
                        events.BatchItem(m.pk, m.public_id, {"party": m.person_id}) for m in matched
                    ],
                )
    return result


# What a mention's ``raw["mirror"]`` names → the record whose access rules it follows:
# (content type label, the raw key holding that record's id). A case message follows its
# case (the timeline registry knows who may see a case).
_MIRRORS = {
    "community.post": ("community.post", "post_id"),
    "service.casemessage": ("service.case", "case_id"),
}


def _mirrored_records(raws: list[dict[str, Any]]) -> dict[int, tuple[int, int]]:
    """Position in the batch → (content type id, record id) for mentions that mirror one."""
    from django.apps import apps

    out: dict[int, tuple[int, int]] = {}
    missing_case: dict[int, int] = {}
    for pos, raw in enumerate(raws):
        label = (raw or {}).get("mirror") if isinstance(raw, dict) else None
        if label not in _MIRRORS:
            continue
        target, key = _MIRRORS[label]
        try:
            ct = ContentType.objects.get_for_model(apps.get_model(target))
        except LookupError:
            continue
        value = raw.get(key)
        if value is None and label == "service.casemessage" and raw.get("case_message_id"):
            missing_case[pos] = int(raw["case_message_id"])
            out[pos] = (ct.pk, 0)
            continue
        try:
            out[pos] = (ct.pk, int(value))
        except (TypeError, ValueError):
            continue
    if missing_case:
        from kith.service.models import CaseMessage

        cases = dict(
            CaseMessage.objects.filter(pk__in=missing_case.values()).values_list("pk", "case_id")
        )
        for pos, msg_id in missing_case.items():
            if msg_id in cases:
                out[pos] = (out[pos][0], cases[msg_id])
            else:
                del out[pos]
    return out


def _set_column(column: str, values: dict[int, Any]) -> None:
    """UPDATE one column of many mentions to per-row values in one statement.

    ``bulk_update`` builds a Case/When expression per row in Python (measured: about
    0.3 s for 500 rows, more than the SQL); this writes the same CASE directly.
    ``column`` is one of this module's own column names, never input.
    """
    # NULLs are left out: they need no write here, and a CASE of NULLs only has no type
    # on PostgreSQL.
    if column not in ("duplicate_of_id", "interaction_id"):
        raise ValueError(column)
    values = {int(k): v for k, v in values.items() if v is not None}
    if not values:
        return
    from django.db import connection

    table = connection.ops.quote_name(Mention._meta.db_table)
    col = connection.ops.quote_name(column)
    for start in range(0, len(values), 400):  # bounded parameters per statement
        chunk = list(values.items())[start : start + 400]
        cases = " ".join("WHEN %s THEN %s" for _ in chunk)
        marks = ", ".join("%s" for _ in chunk)
        params: list[Any] = [x for pair in chunk for x in pair] + [pk for pk, _ in chunk]
        with connection.cursor() as cursor:
            cursor.execute(
                # Names are this module's constants (checked above); values are parameters.
                f"UPDATE {table} SET {col} = CASE id {cases} END WHERE id IN ({marks})",  # noqa: S608
                params,
            )


def _mirror_on_timelines(source: Source, mentions: list[Mention]) -> None:
    """A matched mention is an interaction on the person's timeline (the mirror of it).

    Written in bulk with the batch (one INSERT), keyed ("listening", "mention:<id>") so
    a mirror is never written twice.
    """
    if not mentions:
        return
    ct = ContentType.objects.get_for_model(Mention)
    interactions = [
        Interaction(
            party_id=m.person_id,
            channel=_INTERACTION_CHANNELS.get(m.channel, Channel.SOCIAL),
            direction="in",
            kind="mention",
            occurred_at=m.published_at,
            summary=(f"{source.name}: {m.text}")[:300],
            body=m.text,
            sentiment=m.sentiment_score,
            source=INTERACTION_SOURCE,
            external_id=f"mention:{m.pk}",
            related_type=ct,
            related_id=m.pk,
        )
        for m in mentions
    ]
    Interaction.objects.bulk_create(interactions, ignore_conflicts=True)
    links = dict(
        Interaction.objects.filter(
            source=INTERACTION_SOURCE, external_id__in=[f"mention:{m.pk}" for m in mentions]
        ).values_list("external_id", "id")
    )
    for m in mentions:
        m.interaction_id = links.get(f"mention:{m.pk}")
    _set_column("interaction_id", {m.pk: m.interaction_id for m in mentions})


# ---------------------------------------------------------------- assignment


def _agent_load(agents: list) -> dict[int, int]:
    """Open work per agent: open cases plus open mentions (least-loaded counts both)."""
    from kith.service.models import OPEN_STATUSES as CASE_OPEN
    from kith.service.models import Case

    load: dict[int, int] = {a.pk: 0 for a in agents}
    for model, statuses in ((Case, CASE_OPEN), (Mention, OPEN_STATUSES)):
        rows = (
            model.objects.filter(assignee__in=agents, status__in=statuses)
            .values("assignee")
            .annotate(n=Count("id"))
            .values_list("assignee", "n")
        )
        for pk, n in rows:
            load[pk] = load.get(pk, 0) + n
    return load


def pick_agents(queue, count: int) -> list:
    """``count`` agents by the queue's rule (the case queues' round robin / least loaded).

    Locks the queue row; round robin moves the queue's pointer as the case desk does, so
    cases and mentions share one rotation.
    """
    from kith.service.models import Queue

    if queue is None or count <= 0 or queue.assignment_rule == Queue.Rule.NONE:
        return []
    locked = Queue.objects.select_for_update().get(pk=queue.pk)
    agents = [
        u for u in locked.agents.filter(is_active=True, kind="staff").order_by("id") if u.can_write
    ]
    if not agents:
        return []
    chosen: list = []
    if locked.assignment_rule == Queue.Rule.ROUND_ROBIN:
        last = locked.last_assigned_id
        for _ in range(count):
            later = [a for a in agents if last is not None and a.pk > last]
            agent = later[0] if later else agents[0]
            chosen.append(agent)
            last = agent.pk
    else:
        load = _agent_load(agents)
        for _ in range(count):
            agent = min(agents, key=lambda a: (load.get(a.pk, 0), a.pk))
            load[agent.pk] = load.get(agent.pk, 0) + 1
            chosen.append(agent)
    Queue.objects.filter(pk=locked.pk).update(last_assigned=chosen[-1])
    return chosen


def _assign_new(source: Source, mentions: list[Mention], now: dt.datetime) -> None:
    if not mentions or source.queue_id is None:
        return
    agents = pick_agents(source.queue, len(mentions))
    if not agents:
        return
    for m, agent in zip(mentions, agents, strict=False):
        m.assignee = agent
        m.assigned_at = now
        m.status = MentionStatus.ASSIGNED
    Mention.objects.bulk_update(mentions[: len(agents)], ["assignee", "assigned_at", "status"])


# ---------------------------------------------------------------- queue actions


def _locked(mention: Mention) -> Mention:
    return (
        Mention.objects.select_for_update(of=("self",))
        .select_related("source", "person")
        .get(pk=mention.pk)
    )


def _require_open(mention: Mention) -> None:
    if mention.status not in OPEN_STATUSES:
        raise Conflict(f"This mention is already {mention.get_status_display().lower()}.")


def _log(actor, mention: Mention, action: str, changes: dict | None = None, data=None) -> None:
    audit.record(
        actor=actor,
        action=f"mention.{action}",
        obj=mention,
        changes=changes or {},
        party_id=mention.person_id,
    )
    events.emit(f"mention.{action}", obj=mention, actor=actor, data=data or changes or {})


def assign_mention(*, actor, mention: Mention, assignee) -> Mention:
    """Give an open mention to a staff user who works the queue (None: unassign)."""
    access.require_work(actor)
    if assignee is not None and not access.can_work(assignee):
        raise ValidationFailed.single("assignee", "Must be an active staff user who can write.")
    with transaction.atomic():
        m = _locked(mention)
        _require_open(m)
        previous = m.assignee.username if m.assignee_id else None
        m.assignee = assignee
        m.assigned_at = timezone.now() if assignee else None
        m.status = MentionStatus.ASSIGNED if assignee else MentionStatus.NEW
        m.save(update_fields=["assignee", "assigned_at", "status", "updated_at"])
        _log(
            actor,
            m,
            "assigned",
            {"assignee": [previous, assignee.username if assignee else None]},
        )
    return m


def _check_link(url: str, field_name: str = "url") -> str:
    url = (url or "").strip()
    if not url:
        return ""
    cleaned = pipeline._clean_url(url)
    if not cleaned:
        raise ValidationFailed.single(field_name, "Must be an http(s) link.")
    return cleaned


def mark_replied(*, actor, mention: Mention, url: str = "") -> Mention:
    """Record that the company answered in public (``url``: the reply, when known)."""
    access.require_work(actor)
    link = _check_link(url)
    with transaction.atomic():
        m = _locked(mention)
        _require_open(m)
        now = timezone.now()
        m.status = MentionStatus.REPLIED
        m.responded_at = now
        m.responded_by = actor
        m.reply_url = link
        m.save(update_fields=["status", "responded_at", "responded_by", "reply_url", "updated_at"])
        _log(actor, m, "replied", {"reply_url": link})
    return m


def _close(actor, mention: Mention, status: str, action: str) -> Mention:
    access.require_work(actor)
    with transaction.atomic():
        m = _locked(mention)
        _require_open(m)
        m.status = status
        m.responded_at = m.responded_at or timezone.now()
        m.responded_by = m.responded_by or actor
        m.save(update_fields=["status", "responded_at", "responded_by", "updated_at"])
        _log(actor, m, action, {"status": status})
    return m


def dismiss(*, actor, mention: Mention) -> Mention:
    return _close(actor, mention, MentionStatus.DISMISSED, "dismissed")


def mark_spam(*, actor, mention: Mention) -> Mention:
    return _close(actor, mention, MentionStatus.SPAM, "marked_spam")


def reopen(*, actor, mention: Mention) -> Mention:
    """Put a dismissed or spam mention back in the queue (a mistake undone)."""
    access.require_work(actor)
    with transaction.atomic():
        m = _locked(mention)
        if m.status not in (MentionStatus.DISMISSED, MentionStatus.SPAM):
            raise Conflict("Only a dismissed or spam mention can be reopened.")
        m.status = MentionStatus.ASSIGNED if m.assignee_id else MentionStatus.NEW
        m.responded_at = None
        m.responded_by = None
        m.save(update_fields=["status", "responded_at", "responded_by", "updated_at"])
        _log(actor, m, "reopened", {"status": m.status})
    return m


def _link(name: str, public_id) -> str:
    try:
        return reverse(name, kwargs={"public_id": public_id})
    except NoReverseMatch:
        return ""


def _title(mention: Mention) -> str:
    who = mention.author_name or mention.author_handle or mention.source.name
    text = " ".join(mention.text.split())
    title = f"{who}: {text}"
    return title if len(title) <= 200 else title[:199] + "…"


def _description(mention: Mention) -> str:
    lines = [mention.text, ""]
    if mention.url:
        lines.append(f"Seen at {mention.url}")
    lines.append(f"Listening source: {mention.source.name} ({mention.channel})")
    return "\n".join(lines)


def _case_assignee(actor, mention: Mention):
    """Who the case made from ``mention`` goes to: the agent converting it, unless the
    case desk's rules let them see it anyway (they see every case, or are an agent of
    the source's queue), in which case it goes to the mention's assignee as before.

    Without this an agent outside the queue converted a mention into a case they could
    not open (404): cases are visible to their queue's agents and their assignee.
    """
    from kith.service import access as service_access

    if service_access.case_filter(actor) is None:
        return mention.assignee
    queue = mention.source.queue
    if queue is not None and queue.agents.filter(pk=actor.pk).exists():
        return mention.assignee
    return actor


def convert_mention(
    *,
    actor,
    mention: Mention,
    kind: str,
    person=None,
    idea_category=None,
    deal_data: dict[str, Any] | None = None,
) -> Mention:
    """Turn a mention into a case, an idea or a deal, linked both ways.

    The new record is created through its own app's service (its rules, audit and
    events apply); the mention records kind, id and link, and leaves the queue as
    converted. A case or deal needs a person: the matched author, or ``person``.
    """
    access.require_work(actor)
    if kind not in (ConvertedKind.CASE, ConvertedKind.IDEA, ConvertedKind.DEAL):
        raise ValidationFailed.single("kind", "One of: case, idea, deal.")
    with transaction.atomic():
        m = _locked(mention)
        _require_open(m)
        # A matched author the actor may not see is no person to act on (nor to name).
        party = person or access.shown_person(actor, m)
        if kind in (ConvertedKind.CASE, ConvertedKind.DEAL) and party is None:
            raise ValidationFailed.single(
                "person", "The author is not matched to a person: choose one."
            )
        if kind == ConvertedKind.CASE:
            from kith.service import services as service_services
            from kith.service.models import Origin, Priority

            case = service_services.create_case(
                actor=actor,
                data=service_services.CaseInput(
                    subject=_title(m),
                    description=_description(m),
                    requester=party,
                    origin=Origin.SOCIAL,
                    priority=Priority.HIGH if m.sentiment_label == "negative" else Priority.NORMAL,
                    queue=m.source.queue,
                    assignee=_case_assignee(actor, m),
                ),
            )
            target, link = case, _link("service:case", case.public_id)
        elif kind == ConvertedKind.IDEA:
            from kith.ideas import services as idea_services
            from kith.ideas.models import Category

            category = (
                idea_category or Category.objects.filter(archived=False).order_by("id").first()
            )
            if category is None:
                raise ValidationFailed.single("category", "There is no idea category yet.")
            target = idea_services.create_idea(
                actor=actor, title=_title(m)[:150], body=_description(m), category=category
            )
            link = _link("ideas:idea", target.public_id)
        else:
            from kith.sales import services as sales_services

            values = {"title": _title(m)[:200], "person": party}
            values.update(deal_data or {})
            target = sales_services.create_deal(actor=actor, data=values)
            link = _link("sales:deal", target.public_id)
        if party is not None and m.person_id is None:
            m.person = party
        now = timezone.now()
        m.status = MentionStatus.CONVERTED
        m.converted_kind = kind
        m.converted_id = target.pk
        m.converted_url = link
        m.responded_at = m.responded_at or now
        m.responded_by = m.responded_by or actor
        m.save(
            update_fields=[
                "status",
                "converted_kind",
                "converted_id",
                "converted_url",
                "person",
                "responded_at",
                "responded_by",
                "updated_at",
            ]
        )
        if m.person_id and m.interaction_id is None:
            _mirror_on_timelines(m.source, [m])
        _log(
            actor,
            m,
            "converted",
            {"kind": kind, "id": str(target.public_id), "url": link},
        )
    return m


# ---------------------------------------------------------------- bulk actions

BULK_ACTIONS = ("assign", "dismiss", "spam", "replied")
MAX_BULK = 200


@dataclass
class BulkOutcome:
    done: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


def bulk_action(
    *, actor, mentions: list[Mention], action: str, assignee=None, url: str = ""
) -> BulkOutcome:
    """Apply one action to many mentions; each is its own transaction, failures reported."""
    access.require_work(actor)
    if action not in BULK_ACTIONS:
        raise ValidationFailed.single("action", f"One of: {', '.join(BULK_ACTIONS)}.")
    if len(mentions) > MAX_BULK:
        raise ValidationFailed.single("ids", f"At most {MAX_BULK} mentions at once.")
    outcome = BulkOutcome()
    for m in mentions:
        try:
            if action == "assign":
                assign_mention(actor=actor, mention=m, assignee=assignee)
            elif action == "dismiss":
                dismiss(actor=actor, mention=m)
            elif action == "spam":
                mark_spam(actor=actor, mention=m)
            else:
                mark_replied(actor=actor, mention=m, url=url)
        except (Conflict, ValidationFailed) as exc:
            outcome.failed.append({"id": str(m.public_id), "reason": exc.message})
        else:
            outcome.done.append(str(m.public_id))
    return outcome


# ---------------------------------------------------------------- periodic


def refresh_priorities(*, now: dt.datetime | None = None, limit: int = 5000) -> int:
    """Recompute the shown 0–100 priority of open mentions (order needs no refresh)."""
    now = _now(now)
    rows = list(
        Mention.objects.filter(status__in=OPEN_STATUSES)
        .filter(Q(priority_at__lt=now - dt.timedelta(minutes=10)) | Q(priority_at__isnull=True))
        .order_by("-rank")
        .only("id", "rank")[:limit]
    )
    for m in rows:
        m.priority = pipeline.priority_at(m.rank, now)
        m.priority_at = now
    Mention.objects.bulk_update(rows, ["priority", "priority_at"], batch_size=500)
    return len(rows)


def move_party_references(*, keep, absorb) -> None:
    """Merging two people: the absorbed one's mentions point at the survivor."""
    Mention.objects.filter(person=absorb).update(person=keep)


def submit(source: Source, items: Sequence[IncomingMention]) -> IngestResult | str:
    """Hand a batch to ingest: onto the Redis Stream when ``REDIS_URL`` is set (returns
    the entry id; a consumer stores it), else ingested here and now (returns counts)."""
    from kith.listening import streams

    if streams.enabled():
        return streams.publish(source.pk, list(items))
    return ingest(source, items)


# ---------------------------------------------------------------- pushed mentions


def receive_webhook(
    source: Source, *, timestamp: str | None, signature: str | None, body: bytes
) -> IngestResult | str:
    """A signed inbound webhook call: verify, parse, submit (see kith.listening.payloads).

    Raises SignatureRejected/StaleRequest (401) and BadPayload (400, every field named);
    answers the counts, or the stream entry id when ingest runs on the Redis Stream.
    """
    from kith.listening import payloads

    payloads.verify(webhook_secret(source), timestamp=timestamp, signature=signature, body=body)
    items = payloads.parse_webhook(body, default_channel="webhook")
    return submit(source, items)


_POSITION = re.compile(r"^(?:line|row) (\d+)")


def _error_position(error: FieldError) -> int:
    """The line or row number an upload error names (0 for the whole file)."""
    found = _POSITION.match(error.field)
    return int(found.group(1)) if found else 0


class UploadRejected(ValidationFailed):
    code = "upload_rejected"
    default_message = "Some rows were rejected; nothing was stored."


def upload(*, actor, source: Source, data: bytes, filename: str) -> IngestResult:
    """Bulk upload of JSON Lines or CSV into ``source``: all rows or none.

    Every row is checked (format, then the pipeline's own refusals) before anything is
    written; any rejection answers every rejected row with its reason and stores
    nothing. Rows already stored (same id) count as duplicates, so an upload can be
    repeated safely.
    """
    from kith.listening import payloads

    access.require_configure(actor)
    items, errors, where = payloads.parse_upload(data, filename=filename, default_channel="upload")
    _, rejected = pipeline.normalise(items)
    errors += [FieldError(f"{where[r.index]}: {r.field}", r.reason) for r in rejected]
    # Parse errors and the pipeline's refusals arrive in two passes: report them in the
    # file's order (line or row number; file-wide problems first), stable within a line.
    errors.sort(key=_error_position)
    if errors:
        raise UploadRejected(
            f"{len(errors)} problem(s); nothing was stored. First: "
            f"{errors[0].field}: {errors[0].message}",
            errors=errors,
        )
    with transaction.atomic():
        result = ingest(source, items)
        audit.record(
            actor=actor,
            action="listening.uploaded",
            obj=source,
            changes={"file": filename[:200], "rows": len(items), "created": result.created},
        )
    return result
