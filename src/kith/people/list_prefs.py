"""Per-user list preferences: which columns the people and organisation lists show.

Kept in the user's own ``SavedView`` row under a reserved list name (never shown among
saved filters), so a choice follows the user to any browser they sign in from.
"""

from __future__ import annotations

from django.db import transaction

from kith.core.errors import FieldError, ValidationFailed
from kith.people.models import SavedView

# Optional columns a list may show beside the name (always shown).
COLUMNS = {
    "contact": "E-mail and phone",
    "title": "Job title",
    "tags": "Tags",
    "owner": "Owner",
    "created": "Added",
}
DEFAULT_COLUMNS = ("contact", "tags")
LISTS = ("people", "organizations")
_NAME = "columns"


def _list_key(list_name: str) -> str:
    return f"{list_name}:columns"


def columns_for(user, list_name: str) -> list[str]:
    """The columns ``user`` chose for ``list_name`` (the defaults until they choose)."""
    row = (
        SavedView.objects.filter(user=user, list_name=_list_key(list_name), name=_NAME)
        .values_list("filters", flat=True)
        .first()
    )
    chosen = (row or {}).get("columns") if isinstance(row, dict) else None
    if not isinstance(chosen, list):
        return list(DEFAULT_COLUMNS)
    return [c for c in COLUMNS if c in chosen]


def choose_columns(*, actor, list_name: str, columns: list[str]) -> list[str]:
    """Remember the columns ``actor`` wants on ``list_name``; unknown names are refused."""
    errors = []
    if list_name not in LISTS:
        errors.append(FieldError("list", "Must be people or organizations."))
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        errors.append(FieldError("columns", f"Unknown column: {', '.join(unknown)[:100]}."))
    if errors:
        raise ValidationFailed(errors=errors)
    chosen = [c for c in COLUMNS if c in columns]
    with transaction.atomic():
        SavedView.objects.update_or_create(
            user=actor,
            list_name=_list_key(list_name),
            name=_NAME,
            defaults={"filters": {"columns": chosen}},
        )
    return chosen
