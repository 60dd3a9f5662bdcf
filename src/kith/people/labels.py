"""What a field is called on screen: "First name", not ``given_name``.

Services and imports name fields by their internal keys (``valid_from``,
``attr:nps``, ``handle:github``, ``contact_points[0].value``); people read labels.
One function turns any of them into the label, for error messages and menus.
"""

from __future__ import annotations

import re

from kith.people.models import FieldDefinition

LABELS = {
    "given_name": "First name",
    "family_name": "Last name",
    "display_name": "Name",
    "sort_name": "Sort name",
    "legal_name": "Legal name",
    "title": "Job title",
    "industry": "Industry",
    "organization": "Organisation",
    "birthday": "Birthday",
    "email": "E-mail",
    "phone": "Phone",
    "website": "Website",
    "postal": "Postal address",
    "role": "Role",
    "tags": "Tags",
    "interests": "Interests",
    "notes": "Notes",
    "locale": "Language and region",
    "timezone": "Time zone",
    "external_id": "ID in the other system",
    "valid_from": "Start date",
    "valid_to": "End date",
    "visibility": "Who can see it",
    "team": "Team",
    "owner": "Owner",
    "kind": "Kind",
    "value": "Value",
    "channel": "Channel",
}

_INDEXED = re.compile(r"^(\w+)\[(\d+)\]\.(\w+)$")


def _custom_label(key: str) -> str:
    found = FieldDefinition.objects.filter(key=key).values_list("label", flat=True).first()
    return found or key.replace("_", " ").replace("-", " ").capitalize()


def field_label(name: str) -> str:
    """The on-screen label of a field, import target or error path."""
    name = (name or "").strip()
    if name in LABELS:
        return LABELS[name]
    for prefix in ("attr:", "attributes.", "attr_"):
        if name.startswith(prefix):
            return _custom_label(name.removeprefix(prefix))
    if name.startswith("handle:"):
        channel = name.removeprefix("handle:")
        return f"{channel.capitalize()} handle"
    if match := _INDEXED.match(name):
        group, index, _ = match.groups()
        noun = "Contact" if group == "contact_points" else field_label(group)
        return f"{noun} {int(index) + 1}"
    if re.fullmatch(r"[a-z][a-z0-9_]*", name):
        return name.replace("_", " ").capitalize()
    return name  # already words (a column header, a label)


def target_choices(targets: list[str]) -> list[tuple[str, str]]:
    """Import targets as (value, label) for a menu, custom fields read once."""
    definitions = dict(FieldDefinition.objects.values_list("key", "label"))
    out = []
    for target in targets:
        if target.startswith("attr:") and target.removeprefix("attr:") in definitions:
            out.append((target, definitions[target.removeprefix("attr:")]))
        else:
            out.append((target, field_label(target)))
    return out
