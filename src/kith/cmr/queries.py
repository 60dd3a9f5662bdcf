"""Reads of kith.cmr: purposes, a person's consent state and history, preferences."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from django.db.models import QuerySet

from kith.people.models import Party

from .models import Channel, Consent, ConsentReceipt, Preference, Purpose


def purposes() -> QuerySet[Purpose]:
    return Purpose.objects.filter(active=True)


def consent_state(person: Party) -> list[dict]:
    """Per active purpose: the person's answer on every channel (``any`` first), or the
    purpose's default when they never answered (``explicit`` False)."""
    rows: dict[int, list[Consent]] = {}
    for c in Consent.objects.filter(person=person).order_by("channel"):
        rows.setdefault(c.purpose_id, []).append(c)
    out: list[dict] = []
    for p in purposes():
        answered = rows.get(p.pk, [])
        if not any(c.channel == Channel.ANY for c in answered):
            out.append(
                {
                    "purpose": p.key,
                    "name": p.name,
                    "channel": Channel.ANY.value,
                    "granted": p.default_granted,
                    "explicit": False,
                    "changed_at": None,
                    "source": "",
                }
            )
        for c in sorted(answered, key=lambda c: (c.channel != Channel.ANY, c.channel)):
            out.append(
                {
                    "purpose": p.key,
                    "name": p.name,
                    "channel": c.channel,
                    "granted": c.granted,
                    "explicit": True,
                    "changed_at": c.changed_at,
                    "source": c.source,
                }
            )
    return out


def receipts(person: Party) -> QuerySet[ConsentReceipt]:
    return ConsentReceipt.objects.filter(person=person).select_related("purpose", "actor")


def actor_label(receipt: ConsentReceipt) -> str | None:
    """Who recorded the change: the customer themselves, or a staff member's name."""
    actor = receipt.actor
    if actor is None:
        return None
    if getattr(actor, "person_id", None) == receipt.person_id:
        return "you"
    return actor.get_full_name() or actor.get_username()


def preferences(person: Party) -> dict:
    row = Preference.objects.filter(person=person).first()
    if row is None:
        return {
            "channels": [Channel.EMAIL.value],
            "max_per_day": None,
            "max_per_week": None,
            "muted_topics": [],
            "quiet_start": None,
            "quiet_end": None,
            "timezone": person.timezone or "",
        }
    return {
        "channels": row.channels,
        "max_per_day": row.max_per_day,
        "max_per_week": row.max_per_week,
        "muted_topics": row.muted_topics,
        "quiet_start": row.quiet_start,
        "quiet_end": row.quiet_end,
        "timezone": row.timezone,
    }


@functools.cache
def export_schema() -> dict:
    """The export's JSON Schema (shipped with the code)."""
    path = Path(__file__).parent / "schemas" / "export-v1.schema.json"
    return json.loads(path.read_text(encoding="utf-8"))
