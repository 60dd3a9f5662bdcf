"""CSV and vCard export of people and organisations, streamed in constant memory.

``export_queryset`` builds what a user's list shows, from the same ``PartyFilters``
and ``access.staff_scope`` as the list endpoints, so "export this list" exports
exactly the rows the list holds and nothing the user may not see. The writers then
iterate it in chunks (``.iterator(chunk_size=…)`` with the list's prefetches), so a
hundred thousand rows cost no more memory than five hundred.

The CSV columns are named so that ``importing.suggest_mapping`` maps them back
(``id`` → external_id, which finds the same records by public id), making an exported
file a valid import file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import IO, Any

from django.db.models import QuerySet

from kith.people import access, search
from kith.people.models import ContactPoint, FieldDefinition, Party
from kith.people.normalize import SOCIAL_CHANNELS, STANDARD_CHANNELS
from kith.people.queries import (
    PartyFilters,
    apply_filters,
    current_roles,
    primary_contact,
    with_list_data,
)
from kith.people.vcard import VERSIONS, party_to_vcard

CHUNK_SIZE = 500
# A text search ranks matches and returns a bounded list, not a full filter.
EXPORT_SEARCH_LIMIT = 10_000
EMPLOYER_ROLES = ("employee", "contractor")
_PHONE_LIKE = re.compile(r"[+-][\d\s().-]*")


def csv_safe(value: str) -> str:
    """Guard a cell against spreadsheet formula injection (``=HYPERLINK(…)`` in a name).

    A leading ``=``, ``@``, tab or carriage return, or ``+``/``-`` not followed by a
    phone-like number, gets a leading apostrophe, which spreadsheets show as text;
    the importer removes it again.
    """
    if not value:
        return value
    first = value[0]
    if first in "=@\t\r" or (first in "+-" and not _PHONE_LIKE.fullmatch(value)):
        return "'" + value
    return value


def export_queryset(user, filters: PartyFilters, *, kind: str) -> QuerySet:
    """Active parties of ``kind`` that ``user`` sees in the list filtered by ``filters``."""
    filters = PartyFilters(**{**filters.__dict__, "kind": kind})
    qs = apply_filters(
        access.staff_scope(user).filter(status=Party.Status.ACTIVE), filters, user=user
    )
    if filters.q.strip():
        found = search.search(qs, filters.q, limit=EXPORT_SEARCH_LIMIT)
        qs = qs.filter(pk__in=[p.pk for p in found])
    return qs.order_by("sort_name", "id")


class _Echo:
    """A write-only file whose ``write`` hands the line back, for streaming responses."""

    def write(self, value: str) -> str:
        return value


def _handle_channels(queryset: QuerySet) -> list[str]:
    skip = (*STANDARD_CHANNELS, "external")
    return sorted(
        ContactPoint.objects.filter(party__in=queryset.order_by().values("pk"))
        .exclude(channel__in=skip)
        .values_list("channel", flat=True)
        .distinct()
    )


def _handle_header(channel: str) -> str:
    # Known networks read well as bare names and auto-map back; others keep the prefix.
    return channel if channel in SOCIAL_CHANNELS else f"handle:{channel}"


def _columns(kind: str, channels: list[str], attributes: list[str]) -> list[str]:
    if kind == Party.Kind.PERSON:
        head = ["id", "name", "given_name", "family_name", "title", "organization"]
        tail = ["tags", "roles", "interests", "locale", "timezone", "birthday", "notes"]
    else:
        head = ["id", "name", "legal_name", "industry"]
        tail = ["tags", "roles", "interests", "locale", "timezone", "notes"]
    return [
        *head,
        "email",
        "phone",
        "website",
        "address",
        *(_handle_header(c) for c in channels),
        *tail,
        *(f"attr:{key}" for key in attributes),
        "owner",
        "created_at",
        "updated_at",
    ]


def _row(party: Party, kind: str, channels: list[str], attributes: list[str]) -> list[str]:
    roles = current_roles(party)
    towards_us = sorted({r.role.slug for r in roles if not r.object_id})
    employers = sorted(
        {r.object.display_name for r in roles if r.object_id and r.role.slug in EMPLOYER_ROLES}
    )
    values: dict[str, Any] = {
        "id": party.public_id,
        "name": party.display_name,
        "given_name": party.given_name,
        "family_name": party.family_name,
        "title": party.title,
        # One employer: the importer reads the column as a single organisation.
        "organization": employers[0] if employers else "",
        "legal_name": party.legal_name,
        "industry": party.industry,
        "email": primary_contact(party, ContactPoint.EMAIL),
        "phone": primary_contact(party, ContactPoint.PHONE),
        "website": primary_contact(party, ContactPoint.WEBSITE),
        "address": primary_contact(party, ContactPoint.POSTAL),
        "tags": "; ".join(sorted(t.name for t in party.tags.all())),
        "roles": "; ".join(towards_us),
        "interests": "; ".join(party.interests or []),
        "locale": party.locale,
        "timezone": party.timezone,
        "birthday": party.birthday.isoformat() if party.birthday else "",
        "notes": party.notes,
        "owner": party.owner.get_username() if party.owner_id else "",
        "created_at": party.created_at.isoformat() if party.created_at else "",
        "updated_at": party.updated_at.isoformat() if party.updated_at else "",
    }
    for channel in channels:
        values[_handle_header(channel)] = primary_contact(party, channel)
    for key in attributes:
        value = (party.attributes or {}).get(key)
        values[f"attr:{key}"] = "" if value is None else value
    return [
        csv_safe(str(values.get(column, ""))) for column in _columns(kind, channels, attributes)
    ]


def _kind_of(queryset: QuerySet) -> str:
    kinds = set(queryset.order_by().values_list("kind", flat=True).distinct()[:2])
    return Party.Kind.ORGANIZATION if kinds == {Party.Kind.ORGANIZATION} else Party.Kind.PERSON


def iter_csv(queryset: QuerySet, *, kind: str | None = None) -> Iterator[str]:
    """The CSV file line by line: a header, then one line per party of ``queryset``.

    ``kind`` picks the columns (person or organization); by default it is read from
    the queryset.
    """
    kind = kind or _kind_of(queryset)
    channels = _handle_channels(queryset)
    attributes = [
        d.key for d in FieldDefinition.objects.order_by("key") if d.applies_to in ("any", kind)
    ]
    writer = csv.writer(_Echo())
    yield writer.writerow(_columns(kind, channels, attributes))
    for party in with_list_data(queryset).iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow(_row(party, kind, channels, attributes))


def export_csv(queryset: QuerySet, stream: IO[str], *, kind: str | None = None) -> int:
    """Write ``queryset`` as CSV to ``stream``; returns the number of parties written."""
    count = -1  # the header line is not a party
    for line in iter_csv(queryset, kind=kind):
        stream.write(line)
        count += 1
    return count


def iter_vcard(queryset: QuerySet, *, version: str = "4.0") -> Iterator[str]:
    """One vCard per party of ``queryset`` (4.0 unless ``version="3.0"``), streamed."""
    if version not in VERSIONS:
        raise ValueError(f"vCard version must be one of {', '.join(VERSIONS)}")
    for party in with_list_data(queryset).iterator(chunk_size=CHUNK_SIZE):
        yield party_to_vcard(party, version=version)


def export_vcard(queryset: QuerySet, stream: IO[str], *, version: str = "4.0") -> int:
    """Write ``queryset`` as a vCard file to ``stream``; returns the number of cards."""
    count = 0
    for card in iter_vcard(queryset, version=version):
        stream.write(card)
        count += 1
    return count
