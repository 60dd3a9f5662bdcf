"""The audit log: one call records who changed what, from which channel."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from kith.core.context import current_channel
from kith.core.models import AuditEntry


def jsonable(value: Any) -> Any:
    """Turn field values into JSON for the changes column (dates, decimals, uuids, FKs)."""
    if isinstance(value, models.Model):
        return str(getattr(value, "public_id", value.pk))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value changed, as ``{field: [old, new]}``."""
    return {
        key: [jsonable(before.get(key)), jsonable(after.get(key))]
        for key in after
        if jsonable(before.get(key)) != jsonable(after.get(key))
    }


def record(
    *,
    actor: Any,
    action: str,
    obj: models.Model,
    changes: dict | None = None,
    party_id: int | None = None,
) -> AuditEntry:
    """Append one audit entry; call inside the service's transaction."""
    actor_obj = (
        actor if getattr(actor, "pk", None) and getattr(actor, "is_authenticated", False) else None
    )
    return AuditEntry.objects.create(
        occurred_at=timezone.now(),
        actor=actor_obj,
        actor_label=actor.get_username() if actor_obj else "system",
        channel=current_channel(),
        action=action,
        object_type=ContentType.objects.get_for_model(obj),
        object_id=obj.pk,
        object_public_id=getattr(obj, "public_id", None),
        object_label=str(obj)[:300],
        party_id=party_id,
        changes=jsonable(changes or {}),
    )
