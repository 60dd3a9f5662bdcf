"""Admin writes of purposes (data, not code): add one, edit one.

A purpose's text is what customers are shown when asked; every receipt keeps the text
of its own time (``ConsentReceipt.text_shown``), and every change of the text is an
audit entry — the purpose's text versions (``versions``). The key never changes once
made: receipts and senders refer to it.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction

from kith.core import audit, events
from kith.core.errors import FieldError, NotFound, ValidationFailed
from kith.core.models import AuditEntry

from .models import Purpose

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,59}$")
CONSENT_TYPES = ("EXPLICIT", "IMPLICIT")
FIELDS = (
    "name",
    "text",
    "category",
    "consent_type",
    "termination",
    "third_party_disclosure",
    "third_party_name",
    "default_granted",
    "active",
    "order",
)


@dataclass
class PurposeData:
    key: str = ""
    name: str = ""
    text: str = ""
    category: str = ""
    consent_type: str = "EXPLICIT"
    termination: str = ""
    third_party_disclosure: bool = False
    third_party_name: str = ""
    default_granted: bool = False
    active: bool = True
    order: Any = 100


def form_data(post) -> PurposeData:
    """A purpose form's fields (checkboxes are on when present)."""
    return PurposeData(
        key=post.get("key", "")[:100],
        name=post.get("name", "")[:300],
        text=post.get("text", "")[:5000],
        category=post.get("category", "")[:300],
        consent_type=post.get("consent_type", "EXPLICIT")[:20],
        termination=post.get("termination", "")[:400],
        third_party_disclosure=post.get("third_party_disclosure") == "on",
        third_party_name=post.get("third_party_name", "")[:300],
        default_granted=post.get("default_granted") == "on",
        active=post.get("active", "on") == "on",
        order=post.get("order", "100")[:6],
    )


def _clean(data: PurposeData, *, creating: bool) -> dict[str, Any]:
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if creating and not KEY_RE.match(data.key or ""):
        errors.append(
            FieldError("key", "2–60 lower-case letters, digits or _, starting with a letter.")
        )
    for name, limit, required in (
        ("name", 120, True),
        ("text", 4000, True),
        ("category", 120, True),
        ("termination", 300, False),
        ("third_party_name", 200, False),
    ):
        value = str(getattr(data, name) or "").strip()
        if required and not value:
            errors.append(FieldError(name, "This field is required."))
        elif len(value) > limit:
            errors.append(FieldError(name, f"At most {limit} characters."))
        out[name] = value
    if data.consent_type not in CONSENT_TYPES:
        errors.append(FieldError("consent_type", "EXPLICIT or IMPLICIT."))
    out["consent_type"] = data.consent_type
    try:
        order = int(data.order)
        if not 0 <= order <= 32767:
            raise ValueError
        out["order"] = order
    except (TypeError, ValueError):
        errors.append(FieldError("order", "A whole number between 0 and 32767."))
    if data.third_party_disclosure and not out.get("third_party_name"):
        errors.append(FieldError("third_party_name", "Name who the data is disclosed to."))
    for name in ("third_party_disclosure", "default_granted", "active"):
        out[name] = bool(getattr(data, name))
    if errors:
        raise ValidationFailed(errors=errors)
    return out


def all_purposes():
    return Purpose.objects.order_by("order", "key")


def get(public_id: Any) -> Purpose:
    try:
        pid = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("No such purpose.") from exc
    found = Purpose.objects.filter(public_id=pid).first()
    if found is None:
        raise NotFound("No such purpose.")
    return found


def create_purpose(*, actor, data: PurposeData) -> Purpose:
    values = _clean(data, creating=True)
    try:
        with transaction.atomic():
            purpose = Purpose.objects.create(key=data.key, **values)
            audit.record(actor=actor, action="purpose.created", obj=purpose, changes=values)
            events.emit("purpose.created", obj=purpose, actor=actor, data={"key": purpose.key})
    except IntegrityError as exc:
        raise ValidationFailed.single("key", "A purpose with this key exists.") from exc
    return purpose


def update_purpose(*, actor, purpose: Purpose, data: PurposeData) -> Purpose:
    """Change a purpose (not its key); a changed text is a new version."""
    values = _clean(data, creating=False)
    with transaction.atomic():
        locked = Purpose.objects.select_for_update().get(pk=purpose.pk)
        before = {name: getattr(locked, name) for name in values}
        for name, value in values.items():
            setattr(locked, name, value)
        locked.save()
        changes = audit.diff(before, values)
        if changes:
            audit.record(actor=actor, action="purpose.updated", obj=locked, changes=changes)
            events.emit(
                "purpose.updated",
                obj=locked,
                actor=actor,
                data={"key": locked.key, "fields": sorted(changes)},
            )
    return locked


@dataclass(frozen=True)
class TextVersion:
    since: dt.datetime | None
    by: str
    text: str


def versions(purpose: Purpose) -> list[TextVersion]:
    """The purpose's texts, newest first, from its audit entries (the first one from the
    migration that seeded it has no entry: it is shown with no date)."""
    entries = AuditEntry.objects.filter(
        object_type=ContentType.objects.get_for_model(Purpose), object_id=purpose.pk
    ).order_by("-occurred_at", "-id")
    out: list[TextVersion] = []
    oldest_text = purpose.text
    for entry in entries:
        change = (entry.changes or {}).get("text")
        if entry.action == "purpose.created" and isinstance(change, str):
            out.append(TextVersion(entry.occurred_at, entry.actor_label, change))
            oldest_text = None
        elif isinstance(change, list) and len(change) == 2:
            out.append(TextVersion(entry.occurred_at, entry.actor_label, change[1]))
            oldest_text = change[0]
    if oldest_text is not None:
        out.append(TextVersion(None, "", oldest_text))
    return out
