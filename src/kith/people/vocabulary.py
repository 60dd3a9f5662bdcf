"""Renaming and retiring role types and custom fields.

Retiring never deletes: relationships keep their role and records keep their
attribute values; a retired role is offered for no new relationship and a retired
field appears on no new record's form (nor is it required any more). The short name
(slug) of a role and the key of a field never change, since imports, filters and API
clients use them. Each change locks its row, then writes one audit entry.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from kith.core import audit, events
from kith.core.errors import FieldError, ValidationFailed
from kith.people.models import FieldDefinition, RoleType

ROLE_FIELDS = ("name", "object_label", "description")
FIELD_FIELDS = ("label",)


def _unknown(changes: dict[str, Any], allowed: tuple[str, ...]) -> list[FieldError]:
    return [FieldError(k, "Cannot be changed here.") for k in sorted(set(changes) - set(allowed))]


def update_role_type(*, actor, role: RoleType, changes: dict[str, Any]) -> RoleType:
    """Rename a role type (name, wording towards the organisation, description)."""
    errors = _unknown(changes, ROLE_FIELDS)
    values = {k: " ".join(str(v or "").split()) for k, v in changes.items() if k in ROLE_FIELDS}
    if "name" in values and not values["name"]:
        errors.append(FieldError("name", "This field is required."))
    limits = {"name": 80, "object_label": 80, "description": 300}
    errors += [
        FieldError(k, f"At most {limits[k]} characters.")
        for k, v in values.items()
        if len(v) > limits[k]
    ]
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        row = RoleType.objects.select_for_update().get(pk=role.pk)
        diff = {k: v for k, v in values.items() if getattr(row, k) != v}
        if diff:
            for key, value in diff.items():
                setattr(row, key, value)
            row.save(update_fields=[*diff, "updated_at"])
            audit.record(actor=actor, action="role_type.updated", obj=row, changes=diff)
            events.emit("role_type.updated", obj=row, actor=actor, data={"slug": row.slug})
    return row


def set_role_type_active(*, actor, role: RoleType, active: bool) -> RoleType:
    """Retire a role type (or bring it back); its relationships stay as they are."""
    with transaction.atomic():
        row = RoleType.objects.select_for_update().get(pk=role.pk)
        if row.active != active:
            row.active = active
            row.save(update_fields=["active", "updated_at"])
            action = "role_type.restored" if active else "role_type.retired"
            audit.record(actor=actor, action=action, obj=row, changes={"active": active})
            events.emit(action, obj=row, actor=actor, data={"slug": row.slug})
    return row


def update_field(*, actor, definition: FieldDefinition, changes: dict[str, Any]) -> FieldDefinition:
    """Rename a custom field (its label; the key stays)."""
    errors = _unknown(changes, FIELD_FIELDS)
    label = " ".join(str(changes.get("label", definition.label) or "").split())
    if not label:
        errors.append(FieldError("label", "This field is required."))
    elif len(label) > 120:
        errors.append(FieldError("label", "At most 120 characters."))
    if errors:
        raise ValidationFailed(errors=errors)
    with transaction.atomic():
        row = FieldDefinition.objects.select_for_update().get(pk=definition.pk)
        if row.label != label:
            old = row.label
            row.label = label
            row.save(update_fields=["label", "updated_at"])
            audit.record(
                actor=actor,
                action="field_definition.updated",
                obj=row,
                changes={"label": [old, label]},
            )
            events.emit("field_definition.updated", obj=row, actor=actor, data={"key": row.key})
    return row


def set_field_active(*, actor, definition: FieldDefinition, active: bool) -> FieldDefinition:
    """Retire a custom field (or bring it back); values already stored stay."""
    with transaction.atomic():
        row = FieldDefinition.objects.select_for_update().get(pk=definition.pk)
        if row.active != active:
            row.active = active
            row.save(update_fields=["active", "updated_at"])
            action = "field_definition.restored" if active else "field_definition.retired"
            audit.record(actor=actor, action=action, obj=row, changes={"active": active})
            events.emit(action, obj=row, actor=actor, data={"key": row.key})
    return row
