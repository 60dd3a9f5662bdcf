"""Writes of kith.cmr: consent changes (each with a signed Kantara receipt) and contact
preferences. One transaction each, an audit entry, a domain event through the outbox."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from kith.core import audit, events, timezones
from kith.core.errors import Conflict, FieldError, ValidationFailed
from kith.people.models import Party

from . import receipts
from .models import Channel, Consent, ConsentReceipt, Preference, Purpose, Source

MAX_TEXT = 4000


def _purpose(key: str) -> Purpose:
    found = Purpose.objects.filter(key=str(key or "")[:60], active=True).first()
    if found is None:
        raise ValidationFailed.single("purpose", f"Unknown purpose {str(key)[:60]!r}.")
    return found


def _locked_person(person: Party) -> Party:
    # The person's row serialises concurrent changes of their consents and preferences
    # (the last answer wins, and each receipt states what was current when it was made).
    locked = Party.objects.select_for_update().get(pk=person.pk)
    if locked.status == Party.Status.ERASED:
        raise Conflict("This person was erased; nothing can be recorded for them.")
    if locked.kind != Party.Kind.PERSON:
        raise ValidationFailed.single("person", "Consents belong to people.")
    return locked


def set_consent(
    *,
    actor,
    person: Party,
    purpose: str,
    granted: bool,
    source: str,
    channel: str = Channel.ANY,
    text_shown: str | None = None,
    language: str = "en",
) -> ConsentReceipt:
    """Grant or withdraw ``person``'s consent to ``purpose`` on ``channel``.

    Takes effect at once: every sender asks ``kith.cmr.policy`` before it sends. Returns
    the signed receipt, which also is the history entry. ``text_shown`` is the exact
    text the person saw (the purpose's current text by default).
    """
    if source not in Source.values:
        raise ValidationFailed.single("source", f"Must be one of {', '.join(Source.values)}.")
    if channel not in Channel.values:
        raise ValidationFailed.single("channel", f"Must be one of {', '.join(Channel.values)}.")
    if not isinstance(granted, bool):
        raise ValidationFailed.single("granted", "Must be true or false.")
    if text_shown is not None and len(text_shown) > MAX_TEXT:
        raise ValidationFailed.single("text_shown", f"At most {MAX_TEXT} characters.")
    found = _purpose(purpose)
    with transaction.atomic():
        locked = _locked_person(person)
        if granted:
            from . import terms

            blocker = terms.blocking_term(terms.in_force(locked), found)
            if blocker:
                raise Conflict(
                    f"Your terms ({terms.term_name(blocker)}) forbid {found.name.lower()}; "
                    "change your terms first."
                )
        now = timezone.now()
        consent = Consent.objects.filter(person=locked, purpose=found, channel=channel).first()
        before = None if consent is None else consent.granted
        if consent is None:
            consent = Consent(person=locked, purpose=found, channel=channel)
        consent.granted = granted
        consent.changed_at = now
        consent.source = source
        consent.save()
        receipt_id = uuid.uuid4()
        text = text_shown if text_shown else found.text
        body = receipts.build(
            receipt_id=str(receipt_id),
            timestamp=int(now.timestamp()),
            source=source,
            person_public_id=str(locked.public_id),
            purpose=found,
            text_shown=text,
            channel=channel,
            granted=granted,
            language=language[:10] or "en",
        )
        receipt = ConsentReceipt.objects.create(
            public_id=receipt_id,
            person=locked,
            purpose=found,
            channel=channel,
            granted=granted,
            source=source,
            text_shown=text,
            actor=actor if getattr(actor, "pk", None) else None,
            occurred_at=now,
            receipt=body,
            jws=receipts.sign(body),
            key_id=receipts.key_id(),
        )
        audit.record(
            actor=actor,
            action="consent.granted" if granted else "consent.withdrawn",
            obj=receipt,
            changes={f"{found.key}:{channel}": [before, granted]},
            party_id=locked.pk,
        )
        events.emit(
            "consent.granted" if granted else "consent.withdrawn",
            obj=receipt,
            actor=actor,
            data={
                "person": str(locked.public_id),
                "purpose": found.key,
                "channel": channel,
                "source": source,
            },
        )
    return receipt


# ---------------------------------------------------------------- preferences


@dataclass
class PreferenceInput:
    channels: list[str] = field(default_factory=lambda: [Channel.EMAIL.value])
    max_per_day: int | None = None
    max_per_week: int | None = None
    muted_topics: list[str] = field(default_factory=list)
    quiet_start: dt.time | None = None
    quiet_end: dt.time | None = None
    timezone: str = ""


MAX_CAP = 1000


def _validate_preferences(data: PreferenceInput) -> None:
    errors: list[FieldError] = []
    bad = [c for c in data.channels if c not in Channel.values or c == Channel.ANY]
    if bad or len(data.channels) > len(Channel.values):
        errors.append(FieldError("channels", f"Unknown channel(s): {', '.join(map(str, bad))}."))
    for name in ("max_per_day", "max_per_week"):
        value = getattr(data, name)
        if value is not None and (not isinstance(value, int) or not 0 <= value <= MAX_CAP):
            errors.append(FieldError(name, f"Must be between 0 and {MAX_CAP}."))
    from .policy import TOPICS

    unknown = [t for t in data.muted_topics if t not in TOPICS]
    if unknown:
        errors.append(
            FieldError("muted_topics", f"Unknown topic(s): {', '.join(map(str, unknown))[:200]}.")
        )
    if (data.quiet_start is None) != (data.quiet_end is None):
        errors.append(FieldError("quiet_end", "Give both ends of the quiet hours, or neither."))
    elif data.quiet_start is not None and data.quiet_start == data.quiet_end:
        errors.append(FieldError("quiet_end", "The quiet hours must not start and end at once."))
    # The tz database's own list: ``ZoneInfo`` also opens a folder of it ("Etc",
    # "America") and raises IsADirectoryError, a 500 where a field error is due.
    if data.timezone and not timezones.is_valid(data.timezone):
        errors.append(FieldError("timezone", "Unknown time zone."))
    if errors:
        raise ValidationFailed(errors=errors)


def _snapshot(row: Preference, fields: tuple[str, ...]) -> dict:
    # The audit log stores JSON; times of day as "HH:MM:SS".
    out = {}
    for name in fields:
        value = getattr(row, name)
        out[name] = value.isoformat() if isinstance(value, dt.time) else value
    return out


def set_preferences(*, actor, person: Party, data: PreferenceInput) -> Preference:
    """Replace ``person``'s contact preferences; obeyed by every sender at once."""
    _validate_preferences(data)
    with transaction.atomic():
        locked = _locked_person(person)
        row = Preference.objects.filter(person=locked).first() or Preference(person=locked)
        fields = ("channels", "max_per_day", "max_per_week", "muted_topics")
        fields += ("quiet_start", "quiet_end", "timezone")
        before = _snapshot(row, fields) if row.pk else {}
        row.channels = sorted(set(data.channels))
        row.max_per_day = data.max_per_day
        row.max_per_week = data.max_per_week
        row.muted_topics = sorted(set(data.muted_topics))
        row.quiet_start = data.quiet_start
        row.quiet_end = data.quiet_end
        row.timezone = data.timezone
        row.save()
        after = _snapshot(row, fields)
        audit.record(
            actor=actor,
            action="preferences.updated",
            obj=row,
            changes=audit.diff(before, after),
            party_id=locked.pk,
        )
        events.emit(
            "preferences.updated", obj=row, actor=actor, data={"person": str(locked.public_id)}
        )
    return row


# ---------------------------------------------------------------- export


def export_person(*, actor, person: Party) -> dict:
    """Everything held about ``person`` (``kith.cmr.export``); the export is audited and
    announced, so the person can see who exported their data."""
    from . import export

    document = export.build(person)
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="person.exported",
            obj=person,
            changes={"sections": [None, len(document["sections"])]},
            party_id=person.pk,
        )
        events.emit("person.exported", obj=person, actor=actor, data={"format": "json"})
    return document
