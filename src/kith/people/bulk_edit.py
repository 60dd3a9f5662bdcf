"""Bulk actions on a people or organisations list: many records, one request.

The selection is either ids the user ticked or "everything matching these filters"
(bounded by ``MAX_BULK``). Each record goes through the same service as a single edit
(``update_party`` / ``delete_party``), so the same rules, audit entries and events
apply; each record is its own transaction, and a record that cannot be changed (no
right to it, a portal login on a person being deleted) is reported with its reason
while the others go ahead — never a half-changed record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from kith.core.errors import FieldError, KithError, ValidationFailed
from kith.people import access, services
from kith.people.models import Party

MAX_BULK = 1000
ACTIONS = ("assign_owner", "add_tag", "remove_tag", "delete")


@dataclass
class BulkResult:
    action: str
    done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (display name, reason)


def selection(user, *, ids: list[str] | None, kind: str, matching: QuerySet | None) -> list[Party]:
    """The parties to act on: ``ids`` the user may see, or ``matching`` (already scoped).

    Ids the user may not see are dropped silently, as elsewhere: a bulk request cannot
    tell whether a record exists.
    """
    if matching is not None:
        parties = list(matching[: MAX_BULK + 1])
    else:
        wanted = []
        for raw in ids or []:
            try:
                wanted.append(uuid.UUID(str(raw)))
            except ValueError:
                raise ValidationFailed.single("ids", f"Not a record id: {str(raw)[:40]}") from None
        parties = list(
            access.staff_scope(user)
            .filter(public_id__in=wanted, kind=kind, status=Party.Status.ACTIVE)
            .order_by("sort_name", "id")[: MAX_BULK + 1]
        )
    if not parties:
        raise ValidationFailed.single("ids", "Select at least one record.")
    if len(parties) > MAX_BULK:
        raise ValidationFailed.single(
            "ids", f"At most {MAX_BULK} records at once; narrow the filters."
        )
    return parties


def apply(actor, action: str, parties: list[Party], *, value: Any = None) -> BulkResult:
    """Run ``action`` on each of ``parties``; report what was done and what was refused."""
    if action not in ACTIONS:
        raise ValidationFailed.single("action", "Choose an action.")
    if action == "assign_owner" and value is None:
        raise ValidationFailed.single("owner", "Choose the new owner.")
    if action in ("add_tag", "remove_tag") and not (value or "").strip():
        raise ValidationFailed.single("tag", "Give the tag.")
    if action == "delete":
        access.require_manager(actor)
    else:
        access.require_writer(actor)
    result = BulkResult(action=action)
    for party in parties:
        try:
            _one(actor, action, party, value)
        except ValidationFailed as exc:
            message = "; ".join(e.message for e in exc.errors) or str(exc)
            result.failed.append((party.display_name, message))
        except KithError as exc:
            result.failed.append((party.display_name, str(exc)))
        else:
            result.done += 1
    return result


def _one(actor, action: str, party: Party, value: Any) -> None:
    if not access.can_change(actor, party):
        raise ValidationFailed(
            errors=[FieldError("ids", "You can view this record but not change it.")]
        )
    if action == "delete":
        services.delete_party(actor=actor, party=party)
        return
    if action == "assign_owner":
        services.update_party(actor=actor, party=party, data=services.PartyInput(owner=value))
        return
    names = [t.name for t in party.tags.all()]
    tag = value.strip()
    if action == "add_tag":
        if tag.casefold() in {n.casefold() for n in names}:
            return
        names.append(tag)
    else:
        names = [n for n in names if n.casefold() != tag.casefold()]
    services.update_party(actor=actor, party=party, data=services.PartyInput(tags=names))
