"""A person's data as one versioned JSON document (and their card as vCard).

The document follows ``schemas/export-v1.schema.json`` (served at
``/api/cmr/export-schema``): ``sections`` maps each exported model (see
``kith.cmr.registry``) to its rows, ``excluded`` names every model left out and why.
Rows are read with ``values()`` (one query per model, foreign keys as the related
record's public id), so a person with 10,000 interactions exports in well under the
2-second target (``benchmarks/cmr_export.py``).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import uuid
from typing import Any

import vobject
from django.apps import apps
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kith.people.models import Party

from . import registry

VERSION = "1"
SCHEMA_ID = "https://kith.dev/schemas/cmr/export-v1.schema.json"
SECRET_WORDS = ("password", "secret", "token_hash", "key_hash")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _columns(model: type[models.Model], spec: registry.ExportSpec) -> dict[str, str]:
    """Output name -> ``values()`` path: scalar fields as they are, foreign keys as the
    related record's public id (or its pk when it has none), secrets left out."""
    out: dict[str, str] = {}
    for f in model._meta.concrete_fields:
        if f.name in spec.omit or any(w in f.name for w in SECRET_WORDS):
            continue
        if f.is_relation:
            related = f.related_model
            has_public = any(g.name == "public_id" for g in related._meta.concrete_fields)
            out[f.name] = f"{f.name}__public_id" if has_public else f.attname
        elif f.name != "id":
            out[f.name] = f.name
    return out


def _condition(person: Party, spec: registry.ExportSpec) -> Q:
    condition = Q()
    for lookup in spec.lookups:
        condition |= Q(**{lookup: person.pk})
    return condition


def _owned(model: type[models.Model], spec: registry.ExportSpec, condition: Q):
    """The person's rows, each once. A lookup through a relation may repeat a row; a
    ``pk IN (subquery)`` removes repeats without DISTINCT over wide text columns
    (which made PostgreSQL sort 10,000 interaction bodies)."""
    manager = model._default_manager
    if all("__" not in lookup for lookup in spec.lookups):
        return manager.filter(condition)
    return manager.filter(pk__in=manager.filter(condition).values("pk"))


def counts(person: Party) -> list[tuple[str, int]]:
    """(model label, rows held) for every exported model with rows for ``person``."""
    out = []
    for label in sorted(registry.EXPORTS):
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        spec = registry.EXPORTS[label]
        n = _owned(model, spec, _condition(person, spec)).count()
        if n:
            out.append((label, n))
    return out


def section_rows(person: Party, spec: registry.ExportSpec) -> list[dict[str, Any]]:
    """The rows of one exported model that belong to ``person``."""
    model = apps.get_model(spec.label)
    condition = _condition(person, spec)
    columns = _columns(model, spec)
    rows = _owned(model, spec, condition).order_by("pk").values_list(*columns.values())
    names = list(columns)
    return [{n: _plain(v) for n, v in zip(names, row, strict=True)} for row in rows]


def build(person: Party) -> dict[str, Any]:
    """Everything Kith holds about ``person``, per the registry, as a JSON-ready dict."""
    sections: dict[str, list[dict[str, Any]]] = {}
    for label in sorted(registry.EXPORTS):
        try:
            apps.get_model(label)
        except LookupError:  # an app this installation does not run
            continue
        sections[label] = section_rows(person, registry.EXPORTS[label])
    return {
        "$schema": SCHEMA_ID,
        "version": VERSION,
        "generated_at": timezone.now().isoformat(),
        "person": str(person.public_id),
        "sections": sections,
        "excluded": dict(sorted(registry.EXCLUDED.items())),
    }


def vcard(person: Party) -> str:
    """The person's name and contact points as a vCard 3.0."""
    card = vobject.vCard()
    card.add("fn").value = person.display_name or "Unnamed"
    card.add("n").value = vobject.vcard.Name(
        family=person.family_name or "", given=person.given_name or ""
    )
    kinds = {"email": "email", "phone": "tel", "website": "url"}
    for point in person.contact_points.order_by("-primary", "id"):
        prop = kinds.get(point.channel)
        if prop is None:
            card.add("x-kith-" + point.channel.replace("_", "-")).value = point.value
            continue
        card.add(prop).value = point.value
    if person.timezone:
        card.add("tz").value = person.timezone
    card.add("uid").value = f"urn:uuid:{person.public_id}"
    return card.serialize()
