"""CSV and vCard import of people and organisations.

An import is an ``ImportJob``: ``create_import_job`` checks that the file can be read
and that the column mapping makes sense (or raises ``ValidationFailed`` at once), and
``run_import_job`` (from a task or the CLI) works through it in chunks.

Pipeline, one chunk of rows (``CHUNK_SIZE``) at a time:

1. *Rows*: a CSV line is turned into ``(target, value, source)`` cells through the
   mapping; a vCard becomes the same cells (``kith.people.vcard``), so both share the
   rest of the pipeline.
2. *Validation* (no database): every value is checked with the rules the services use
   (``normalize_contact``, field lengths, ISO dates, time zones, custom attributes,
   role vocabulary). A row with any error is rejected whole and each error recorded as
   ``{row, field, message}``; ``row`` is the spreadsheet row (the header is row 1, or
   the card's position for vCards) and ``field`` the column (or vCard property).
   Contact points get their display form here too. On a file of several chunks,
   reading and validation run one chunk ahead in a forked child process
   (``kith.core.ahead``, ``KITH_IMPORT_VALIDATE_AHEAD``), which also makes each row's
   search document should the row become a new party; the writing process then does
   neither (a third less of its CPU, ``benchmarks/README.md``).
3. *Matching*, before the chunk's write transaction: one query finds which rows'
   e-mails, phones, handles and external ids already exist (``ContactPoint`` is unique
   per ``(channel, normalized)``), a few more load those parties. Rows then run in file
   order against an index of keys, so two rows of the same file meet each other too.
   The write transaction first checks, with the parties locked, that what matching read
   of them is unchanged (``_Job.still_current``), and matches the chunk again under the
   lock when not. Matching outside holds SQLite's one write lock for about a quarter
   less of an import's time (``benchmarks/README.md``).
4. *Writing*: parties, contact points, tags, relationships and audit entries are
   bulk-inserted (one audit entry per party); the domain events go out as one batch
   row per kind of change per chunk (``events.emit_batch`` in the bulk lane: it stands
   for a ``person.created``/``…updated`` event per party, whose data lists the roles
   added), left to the worker, which hands each batch to set-wise subscribers in one
   go and delivers interactive events first. The search index is refreshed once per
   chunk. The job's progress and heartbeat are saved in the same transaction, so a job
   whose worker died resumes exactly where it stopped.

Idempotency and duplicates: a row matches an existing record, in this order, by

* any of its normalised e-mails, phones or social handles (and for organisations
  their website), which is how "ana@x.com" meets "Ana@X.com";
* its external id: stored as a ``ContactPoint`` on the channel ``external`` whose
  normalised value is ``"<person|organization>:<id>"``. It is a contact point rather
  than a custom attribute because the database then keeps it unique, the same single
  lookup query finds it, merges carry it along, and the API does not reject it as an
  undefined attribute when a record is saved back. An id that is a UUID is also
  looked up as a Kith public id, so exported files (CSV ``id`` column, vCard ``UID``)
  find their records again;
* only for rows with none of these keys: the exact case-insensitive name together
  with the same current employer (or no employer).

A matched row fills only empty fields and adds the contact points, tags, interests,
attributes and roles the record lacks; it counts as *updated* when that changed
something and *unchanged* otherwise. A row whose keys point at two different records,
at a record of the other kind, or at a record the importing user cannot see, is
rejected with the reason rather than guessed at. Importing the same file twice
therefore creates nothing the second time.

A dry run validates and matches everything and counts what would happen, but writes
nothing: no parties, no audit entries, no events.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from kith.core import ahead, audit, events, timezones
from kith.core.audit import jsonable
from kith.core.bulk import insert_rows
from kith.core.context import channel, current_channel
from kith.core.errors import Conflict, FieldError, ValidationFailed
from kith.core.models import AuditEntry
from kith.people import access, search, vcard
from kith.people.exporting import csv_safe
from kith.people.models import (
    ContactPoint,
    FieldDefinition,
    ImportJob,
    Party,
    Relationship,
    RoleType,
    Tag,
    Visibility,
)
from kith.people.normalize import (
    CHANNEL_RE,
    SOCIAL_CHANNELS,
    STANDARD_CHANNELS,
    InvalidContactPoint,
    clean_attributes,
    display_value,
    normalize_contact,
)

# The services' own validators, so an imported row obeys exactly the rules of a form.
from kith.people.services import (
    _clean_interests,
    _validate_fields,
    _validate_tags,
)

logger = logging.getLogger("kith.people.importing")

KINDS = {"people": Party.Kind.PERSON, "organizations": Party.Kind.ORGANIZATION}
FORMATS = ("csv", "vcard")
CHUNK_SIZE = 1000
MAX_BYTES = 50 * 1024 * 1024
EXTERNAL = "external"  # ContactPoint channel holding external ids
EMPLOYEE = "employee"
ERRORS_SAVE_LIMIT = 2000  # above this many errors, save them every few chunks only

COMMON_TARGETS = (
    "display_name",
    "email",
    "phone",
    "website",
    "postal",
    "role",
    "tags",
    "interests",
    "notes",
    "locale",
    "timezone",
    "external_id",
)
PERSON_TARGETS = (
    "given_name",
    "family_name",
    *COMMON_TARGETS[:1],
    "title",
    *COMMON_TARGETS[1:],
    "organization",
    "birthday",
)
ORGANIZATION_TARGETS = (*COMMON_TARGETS[:1], "legal_name", "industry", *COMMON_TARGETS[1:])
CONTACT_TARGETS = ("email", "phone", "website", "postal")
# Targets several columns may feed; every other target takes one column.
REPEATABLE = {"email", "phone", "website", "postal", "role", "tags", "interests"}
IGNORED_TARGETS = {"", "-", "ignore", "skip", "none"}
NAME_TARGETS = {"given_name", "family_name", "display_name"}
KEY_TARGETS = {"email", "phone", "external_id"}

_LIST_SPLIT = re.compile(r"\s*[,;]\s*")
_EMAIL_SPLIT = re.compile(r"[\s,;]+")
_ANGLE_ADDRESS = re.compile(r"<([^<>\s]+)>")
_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_NUMBER_LIKE = re.compile(r"[+\d][\d\s().-]{5,}")
_LABEL_RE = re.compile(r"\b(work|home|mobile|cell|office|personal|other|fax|main)\b", re.I)


# ---------------------------------------------------------------- decoding and CSV reading


def decode_content(data: bytes | str) -> tuple[str, str]:
    """Return ``(text, warning)`` for an uploaded file.

    UTF-8 (with or without BOM) and UTF-16 with BOM are read as they are. Anything
    else is tried as Windows-1252, what Excel writes in Western Europe, with a warning
    to check accented letters; a file that is not text at all is refused.
    """
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), ""
    if len(data) > MAX_BYTES:
        raise ValidationFailed.single(
            "file", f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it."
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), ""
        except UnicodeDecodeError as exc:
            raise ValidationFailed.single("file", "The file is not valid UTF-16 text.") from exc
    if b"\x00" in data[:65536]:
        raise ValidationFailed.single(
            "file",
            "This is not a text file; export the sheet as CSV (UTF-8) or the contacts as vCard.",
        )
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as exc:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise ValidationFailed.single(
                "file",
                f"The file is not UTF-8 text (unreadable byte at position {exc.start}); "
                "save it as 'CSV UTF-8' and upload it again.",
            ) from exc
        return text, (
            "The file is not UTF-8; it was read as Windows-1252 (Western European). "
            "Check accented letters in the result, or save the file as 'CSV UTF-8'."
        )


def importable_text(text: str, file_format: str) -> tuple[str, str]:
    """The part of a file's text an import keeps, and a note on what it left out.

    vCards lose their pictures (``PHOTO``, ``LOGO``, ``SOUND``, ``KEY``), line by line
    before anything decodes them: Kith keeps no pictures of people, and a 7 MB photo
    cost hundreds of megabytes to parse. Call it before the text is stored anywhere
    (the job, the web UI's session).
    """
    if file_format != "vcard":
        return text, ""
    text, pictures = vcard.strip_pictures(text)
    note = (
        "Photos and other pictures in the file are not imported (Kith keeps no pictures of people)."
        if pictures
        else ""
    )
    return text, note


def _delimiter(text: str) -> str:
    """Guess the delimiter from the header line: Excel writes ';' in many locales."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _reader(text: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))


def _clean_headers(raw: list[str]) -> list[str]:
    headers: list[str] = []
    for index, name in enumerate(raw, start=1):
        name = " ".join(name.replace("\ufeff", "").split()) or f"Column {index}"
        unique, n = name, 2
        while unique in headers:
            unique, n = f"{name} ({n})", n + 1
        headers.append(unique)
    return headers


def _looks_like_data(headers: list[str]) -> bool:
    """True when the first line holds values (an e-mail, a number) rather than names."""
    return any(_EMAIL_LIKE.fullmatch(name) or _NUMBER_LIKE.fullmatch(name) for name in headers)


def read_csv_header(text: str) -> list[str]:
    """The cleaned column names, or ``ValidationFailed`` when there is no header."""
    try:
        first = next(_reader(text), None)
    except csv.Error as exc:
        raise ValidationFailed.single("file", f"Not a readable CSV file: {exc}.") from exc
    if first is None or not any(cell.strip() for cell in first):
        raise ValidationFailed.single(
            "file",
            "The file is empty or its first row is blank; the first row must hold column names.",
        )
    headers = _clean_headers(first)
    if _looks_like_data([h for h, raw in zip(headers, first, strict=True) if raw.strip()]):
        raise ValidationFailed.single(
            "file",
            "The first row looks like data, not column names: add a header row such as "
            "'First name,Last name,Email'.",
        )
    return headers


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Data rows as ``(spreadsheet row number, cells)``, skipping blank rows."""
    reader = _reader(text)
    next(reader, None)
    for number, cells in enumerate(reader, start=2):
        if any(cell.strip() for cell in cells):
            yield number, cells


def _count_csv_rows(text: str) -> int:
    try:
        return sum(1 for _ in _csv_rows(text))
    except csv.Error as exc:
        raise ValidationFailed.single("file", f"Not a readable CSV file: {exc}.") from exc


# ---------------------------------------------------------------- mapping


def _definitions() -> dict[str, FieldDefinition]:
    return {d.key: d for d in FieldDefinition.objects.all()}


def allowed_targets(kind: str = "people") -> list[str]:
    """Every target a column may map to for ``kind`` (for pickers in the UI and API)."""
    party_kind = KINDS.get(kind, Party.Kind.PERSON)
    base = PERSON_TARGETS if party_kind == Party.Kind.PERSON else ORGANIZATION_TARGETS
    handles = [f"handle:{name}" for name in SOCIAL_CHANNELS]
    attrs = [
        f"attr:{d.key}"
        for d in _definitions().values()
        if d.active and d.applies_to in ("any", party_kind)
    ]
    return [*base, *handles, *attrs]


def _target_error(target: str, party_kind: str, definitions: dict) -> str | None:
    base = PERSON_TARGETS if party_kind == Party.Kind.PERSON else ORGANIZATION_TARGETS
    if target in base:
        return None
    if target.startswith("handle:"):
        name = target.removeprefix("handle:")
        if name in STANDARD_CHANNELS or name == EXTERNAL or not CHANNEL_RE.match(name):
            return f"'{name}' is not a social channel name (use e.g. handle:twitter)."
        return None
    if target.startswith("attr:"):
        key = target.removeprefix("attr:")
        definition = definitions.get(key)
        if definition is None or definition.applies_to not in ("any", party_kind):
            return f"Unknown attribute '{key}'; define the field first."
        if not definition.active:
            return (
                f"The field '{definition.label}' is retired; restore it in Settings → "
                "Custom fields to import into it."
            )
        return None
    if target == "organization":
        return "Organisations have no employer; map this column to display_name instead."
    return (
        f"Unknown target '{target}'. Use one of: {', '.join(base)}, handle:<channel>, attr:<key>."
    )


def _clean_mapping(
    mapping: dict[str, str], headers: list[str], party_kind: str, definitions: dict
) -> tuple[dict[str, str], list[FieldError]]:
    """Check every column exists and every target is known; returns the usable mapping."""
    cleaned: dict[str, str] = {}
    errors: list[FieldError] = []
    used: dict[str, str] = {}
    for column, raw_target in (mapping or {}).items():
        target = str(raw_target or "").strip().casefold()
        if target in IGNORED_TARGETS:
            continue
        if column not in headers:
            errors.append(FieldError(f"mapping.{column}", "No such column in the file."))
            continue
        problem = _target_error(target, party_kind, definitions)
        if problem:
            errors.append(FieldError(f"mapping.{column}", problem))
            continue
        repeatable = target in REPEATABLE or target.startswith("handle:")
        if not repeatable and target in used:
            errors.append(
                FieldError(
                    f"mapping.{column}",
                    f"Column '{used[target]}' is already mapped to {target}; "
                    "only contact, tag, interest and role columns may repeat.",
                )
            )
            continue
        used[target] = column
        cleaned[column] = target
    targets = set(cleaned.values())
    if not errors and not (
        targets & NAME_TARGETS
        or targets & KEY_TARGETS
        or any(t.startswith("handle:") for t in targets)
    ):
        name = "a name (given_name, family_name or display_name)"
        if party_kind == Party.Kind.ORGANIZATION:
            name = "the name (display_name)"
        errors.append(
            FieldError(
                "mapping",
                f"Map at least one column to {name} or to an e-mail, phone or external_id "
                "to find existing records by.",
            )
        )
    return cleaned, errors


_ALIASES: dict[str, tuple[str, ...]] = {
    "given_name": ("firstname", "givenname", "first", "forename", "fname", "vorname", "prenom"),
    "family_name": ("lastname", "familyname", "surname", "last", "lname", "nachname"),
    "display_name": ("name", "fullname", "displayname", "contactname", "contact", "fn"),
    "title": ("title", "jobtitle", "position", "jobposition", "job"),
    "organization": (
        "company",
        "companyname",
        "organization",
        "organisation",
        "organizationname",
        "organisationname",
        "employer",
        "account",
        "accountname",
        "org",
    ),
    "email": ("email", "emailaddress", "mail", "emails", "mailaddress"),
    "phone": ("phone", "phonenumber", "telephone", "tel", "mobile", "cell", "phones"),
    "website": ("website", "web", "url", "homepage", "site", "webpage", "websiteurl", "www"),
    "postal": ("address", "postaladdress", "streetaddress", "mailingaddress", "postal"),
    "tags": ("tags", "tag", "labels", "label", "groups", "categories", "category"),
    "interests": ("interests", "interest", "topics"),
    "notes": ("notes", "note", "comments", "comment", "description", "remarks"),
    "locale": ("locale", "language", "lang"),
    "timezone": ("timezone", "tz"),
    "birthday": ("birthday", "birthdate", "dateofbirth", "dob", "bday"),
    "role": ("role", "roles", "relationship", "relationshiptype"),
    "external_id": (
        "id",
        "externalid",
        "recordid",
        "contactid",
        "uid",
        "uuid",
        "importid",
        "sourceid",
        "crmid",
    ),
    "legal_name": ("legalname", "registeredname"),
    "industry": ("industry", "sector"),
}
_ORG_ALIASES = {
    "display_name": (
        "name",
        "displayname",
        "company",
        "companyname",
        "organization",
        "organisation",
        "organizationname",
        "organisationname",
        "accountname",
        "account",
    )
}
_ALIAS_INDEX = {alias: target for target, names in _ALIASES.items() for alias in names}
_ORG_ALIAS_INDEX = {alias: target for target, names in _ORG_ALIASES.items() for alias in names}
# Substrings that reveal a contact column such as "E-mail 2 - Value" or "Work phone".
_PATTERNS = (
    ("email", "email"),
    ("mail", "email"),
    ("phone", "phone"),
    ("mobile", "phone"),
    ("website", "website"),
    ("address", "postal"),
)


def _header_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.casefold())


def _suggest_one(header: str, party_kind: str, definitions: dict) -> str | None:
    text = header.strip().casefold()
    if text.startswith(("handle:", "attr:")) or text in (
        PERSON_TARGETS if party_kind == Party.Kind.PERSON else ORGANIZATION_TARGETS
    ):
        return text if _target_error(text, party_kind, definitions) is None else None
    key = _header_key(header)
    if not key:
        return None
    if party_kind == Party.Kind.ORGANIZATION and key in _ORG_ALIAS_INDEX:
        return _ORG_ALIAS_INDEX[key]
    if key in _ALIAS_INDEX:
        target = _ALIAS_INDEX[key]
        return target if _target_error(target, party_kind, definitions) is None else None
    for channel_name in SOCIAL_CHANNELS:
        suffixes = ("", "handle", "url", "username", "profile", "user", "id")
        if key in {channel_name + s for s in suffixes}:
            return f"handle:{channel_name}"
    slug = slugify(header).replace("-", "_")
    for definition in definitions.values():
        if definition.applies_to in ("any", party_kind) and (
            slug == definition.key or text == definition.label.casefold()
        ):
            return f"attr:{definition.key}"
    if "type" in key or "label" in key:  # "Phone 1 - Type" holds "Mobile", not a number
        return None
    for needle, target in _PATTERNS:
        if needle in key:
            return target
    return None


def suggest_mapping(headers: Iterable[str], kind: str = "people") -> dict[str, str]:
    """Map common header names ("First name", "E-mail", "Phone", "Company", "Twitter"…).

    Columns nothing fits are left out; a single-value target goes to the first column
    that asks for it.
    """
    party_kind = KINDS.get(kind, Party.Kind.PERSON)
    definitions = {k: d for k, d in _definitions().items() if d.active}  # retired: not offered
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        target = _suggest_one(header, party_kind, definitions)
        if target is None:
            continue
        if target not in REPEATABLE and not target.startswith("handle:") and target in used:
            continue
        used.add(target)
        mapping[header] = target
    return mapping


# ---------------------------------------------------------------- reading rows


@dataclass
class _RawRow:
    number: int
    cells: list[vcard.Cell]
    error: dict[str, Any] | None = None


def _iter_raw_rows(job: ImportJob) -> Iterator[_RawRow]:
    """Every non-blank row of the job's file as cells, in file order."""
    kind = "organizations" if job.kind == "organizations" else "people"
    if job.file_format == "vcard":
        for card in vcard.parse_vcards(job.content, kind=kind):
            error = (
                {"row": card.number, "field": "vCard", "message": card.error, "value": ""}
                if card.error
                else None
            )
            yield _RawRow(card.number, card.cells, error)
        return
    headers = read_csv_header(job.content)
    mapping = job.mapping or {}
    width = len(headers)
    columns = [(i, h, mapping.get(h)) for i, h in enumerate(headers)]
    columns = [(i, h, t) for i, h, t in columns if t]
    for number, raw in _csv_rows(job.content):
        extra = [c for c in raw[width:] if c.strip()]
        if extra:
            yield _RawRow(
                number,
                [],
                {
                    "row": number,
                    "field": "row",
                    "message": f"Has {len(raw)} cells but the header has {width}; "
                    "check the quoting of values that contain the delimiter.",
                    "value": extra[0][:200],
                },
            )
            continue
        cells = [(t, raw[i], h) for i, h, t in columns if i < len(raw) and raw[i].strip()]
        yield _RawRow(number, cells)


# ---------------------------------------------------------------- validation of one row


@dataclass
class _Row:
    number: int
    fields: dict[str, Any]
    display_name: str
    name_source: str
    contacts: list[tuple[str, str, str, str, str]]  # channel, normalized, typed, label, source
    external: tuple[str, str, str] | None  # (normalized key, value, source)
    external_uuid: uuid.UUID | None
    tags: list[str]
    interests: list[str]
    attributes: dict[str, Any]
    roles: list[RoleType]
    organization: str
    organization_source: str
    # The search document the row's party would get were it new and made of this row
    # alone (``_row_document``): made where validation runs ahead, in its child.
    document: str | None = None

    @property
    def sort_name(self) -> str:
        return self.display_name.casefold()[:300]


def _email_parts(value: str) -> list[str]:
    """The addresses in an e-mail cell: "a@x.org; b@y.org" or "Ana Lima <ana@x.org>"."""
    if "<" in value and ">" in value:
        return _ANGLE_ADDRESS.findall(value)
    return [p for p in _EMAIL_SPLIT.split(value) if p]


@lru_cache(maxsize=256)
def _contact_label(source: str) -> str:
    found = _LABEL_RE.search(source)
    return found.group(1).casefold()[:40] if found else ""


class _Validator:
    """Turns a row's cells into a ``_Row`` with the services' rules, or into errors."""

    def __init__(self, party_kind: str, mapping: dict[str, str] | None = None, *, vcard_file=False):
        self.kind = party_kind
        # Where a missing name is reported: the column the user mapped to a name.
        by_target = {t: column for column, t in reversed(list((mapping or {}).items()))}
        default = "display_name" if party_kind == Party.Kind.ORGANIZATION else "given_name"
        self.name_source = (
            "FN"
            if vcard_file
            else next(
                (
                    by_target[t]
                    for t in ("display_name", "given_name", "family_name")
                    if t in by_target
                ),
                default,
            )
        )
        self.definitions = _definitions()
        self.roles: dict[str, RoleType] = {}
        for role in RoleType.objects.filter(active=True):
            self.roles[role.slug] = role
            self.roles.setdefault(role.name.casefold(), role)

    def validate(self, raw: _RawRow) -> tuple[_Row | None, list[dict[str, Any]]]:
        number = raw.number
        errors: list[dict[str, Any]] = []

        def fail(source: str, message: str, value: Any = "") -> None:
            errors.append(
                {"row": number, "field": source, "message": message, "value": str(value)[:200]}
            )

        scalars: dict[str, str] = {}
        sources: dict[str, str] = {}
        values: dict[str, str] = {}
        contacts: list[tuple[str, str, str, str, str]] = []
        seen: set[tuple[str, str]] = set()
        tags: list[str] = []
        interests_raw: list[str] = []
        role_names: list[tuple[str, str]] = []
        attributes: dict[str, str] = {}
        external = None
        organization, organization_source = "", ""
        for target, raw_value, source in raw.cells:
            value = str(raw_value).strip()
            if not value:
                continue
            if value[0] == "'" and value[1:2] in ("=", "+", "-", "@"):
                value = value[1:]  # undo the formula guard our own CSV export adds
            if target in CONTACT_TARGETS or target.startswith("handle:"):
                channel_name = target.removeprefix("handle:")
                parts = _email_parts(value) if target == "email" else [value]
                for part in (p for p in parts if p):
                    try:
                        channel_name, normalized = normalize_contact(channel_name, part)
                    except InvalidContactPoint as exc:
                        fail(source, str(exc), part)
                        continue
                    if (channel_name, normalized) not in seen:
                        seen.add((channel_name, normalized))
                        # The display form now, with the phone just parsed (cached), and
                        # where validation runs ahead, off the writing process.
                        shown = display_value(channel_name, part)[:500]
                        contacts.append(
                            (channel_name, normalized, shown, _contact_label(source), source)
                        )
            elif target == "tags":
                tags.extend(p for p in _LIST_SPLIT.split(value) if p)
                sources.setdefault("tags", source)
            elif target == "interests":
                interests_raw.extend(p for p in _LIST_SPLIT.split(value) if p)
                sources.setdefault("interests", source)
            elif target == "role":
                role_names.extend((p, source) for p in _LIST_SPLIT.split(value) if p)
            elif target.startswith("attr:"):
                key = target.removeprefix("attr:")
                attributes[key] = value
                sources[f"attributes.{key}"] = source
                values[f"attributes.{key}"] = value
            elif target == "external_id":
                if len(value) > 400:
                    fail(source, "At most 400 characters.", value)
                else:
                    external = (f"{self.kind}:{value}", value, source)
            elif target == "organization":
                organization = " ".join(value.split())
                organization_source = source
                if len(organization) > 300:
                    fail(source, "At most 300 characters.", value)
            elif target not in scalars:
                scalars[target] = value
                sources[target] = source
                values[target] = value

        tz = scalars.pop("timezone", None)
        cleaned, field_errors = _validate_fields(self.kind, scalars, creating=False)
        if tz:
            if timezones.is_valid(tz):
                cleaned["timezone"] = tz
            else:
                field_errors.append(
                    FieldError("timezone", "Unknown time zone; use a name such as Europe/Berlin.")
                )
        tag_names, tag_errors = _validate_tags(tags)
        field_errors += tag_errors
        interests = _clean_interests(interests_raw, field_errors)
        clean_attrs: dict[str, Any] = {}
        if attributes:
            clean_attrs, attr_errors = clean_attributes(
                self.definitions, attributes, kind=self.kind, partial=True
            )
            field_errors += attr_errors
        for error in field_errors:
            fail(sources.get(error.field, error.field), error.message, values.get(error.field, ""))

        roles: list[RoleType] = []
        for name, source in role_names:
            role = self.roles.get(name.casefold()) or self.roles.get(slugify(name))
            if role is None:
                fail(source, f"Unknown role '{name}'.", name)
            elif role.applies_to not in ("any", self.kind):
                fail(
                    source,
                    f"The role {role.name} applies to {role.get_applies_to_display().lower()} only.",
                    name,
                )
            elif role not in roles:
                roles.append(role)
        if organization and EMPLOYEE not in self.roles:
            fail(organization_source, "The employee role is missing from the role vocabulary.")

        if not raw.cells:
            fail("row", "Nothing to import: every mapped column is empty in this row.")
        if errors:
            return None, errors

        display_name = cleaned.get("display_name", "")
        if not display_name and self.kind == Party.Kind.PERSON:
            display_name = " ".join(
                p for p in (cleaned.get("given_name"), cleaned.get("family_name")) if p
            )
        name_source = next(
            (sources[t] for t in ("display_name", "given_name", "family_name") if t in sources),
            self.name_source,
        )
        external_uuid = vcard.uid_to_uuid(external[1]) if external else None
        return (
            _Row(
                number=number,
                fields={k: v for k, v in cleaned.items() if v not in ("", None)},
                display_name=display_name[:300],
                name_source=name_source,
                contacts=contacts,
                external=external,
                external_uuid=external_uuid,
                tags=tag_names,
                interests=interests,
                attributes=clean_attrs,
                roles=roles,
                organization=organization,
                organization_source=organization_source,
            ),
            [],
        )


# ---------------------------------------------------------------- matching and planning


_FIELD_NAMES = (
    "given_name",
    "family_name",
    "display_name",
    "title",
    "legal_name",
    "industry",
    "locale",
    "timezone",
    "birthday",
    "notes",
)


# What tells whether a stored party changed after planning read it.
_CHECKED = ("id", "updated_at", "status", "merged_into_id")


def _party_version(party: _Stored) -> tuple:
    """The ``_CHECKED`` columns of a party as planning read it (``values_list`` order)."""
    return tuple(getattr(party, name) for name in _CHECKED)


def _related_rows(live: set[int]) -> tuple[list, list, list, dict]:
    """What an import reads of these parties besides their own row: contact points,
    tags, open roles and employments (with the employers' names)."""
    contacts = list(
        ContactPoint.objects.filter(party_id__in=live).values_list(
            "party_id", "channel", "normalized", "primary", "updated_at"
        )
    )
    tags = list(
        Party.tags.through.objects.filter(party_id__in=live).values_list("party_id", "tag__name")
    )
    rels = list(
        Relationship.objects.filter(subject_id__in=live)
        .filter(Q(object__isnull=True) | Q(role__slug=EMPLOYEE))
        .order_by()
        .values_list("subject_id", "role_id", "object_id", "valid_to")
    )
    # The employers' names in a query of their own: joined in, PostgreSQL could walk
    # the whole party table in id order to meet a few recent organisations.
    employer_names = dict(
        Party.objects.filter(pk__in={r[2] for r in rels if r[2] is not None})
        .order_by()
        .values_list("pk", "sort_name")
    )
    return contacts, tags, rels, employer_names


def _by_party(
    live: set[int], contacts: list, tags: list, rels: list, employer_names: dict
) -> dict[int, tuple]:
    """``_related_rows`` per party, in a form that compares equal when nothing changed."""
    out: dict[int, tuple[list, list, list]] = {pk: ([], [], []) for pk in live}
    for row in contacts:
        out[row[0]][0].append(row[1:])
    for pid, name in tags:
        out[pid][1].append(name)
    for pid, role_id, object_id, valid_to in rels:
        out[pid][2].append((role_id, object_id, employer_names.get(object_id), valid_to))
    return {pk: tuple(tuple(sorted(part, key=repr)) for part in parts) for pk, parts in out.items()}


_STORED_FIELDS = (
    "id",
    "public_id",
    "kind",
    "status",
    "merged_into_id",
    "interests",
    "attributes",
    *_FIELD_NAMES,
)


class _Stored:
    """A stored party as an import sees it: ids, kind, status and field values.

    Stands in for a ``Party`` instance in ``_Entity.party``, for stored parties and
    for those the import inserts (the writers read and set the same attributes), at a
    fraction of a model instance's cost.
    """

    def __init__(self, row: dict[str, Any]):
        self.__dict__.update(row)
        self.pk = row["id"]


@dataclass(eq=False)
class _Org:
    """An employer named in a people import: an existing organisation or one to create."""

    name: str
    pk: int | None = None
    public_id: uuid.UUID | None = None
    party: _Stored | None = None
    planned: bool = False  # counted as "would be created" by a dry run

    @property
    def key(self) -> str:
        return self.name.casefold()[:300]


@dataclass(eq=False)
class _Entity:
    """What the import knows of one party: stored state plus what this chunk adds."""

    kind: str
    label: str
    party: _Stored | None = None  # None until a new party is written
    values: dict[str, Any] = field(default_factory=dict)  # non-empty field values
    interests: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = Party.Status.ACTIVE
    visible: bool = True
    keys: set[tuple[str, str]] = field(default_factory=set)
    postal: set[str] = field(default_factory=set)
    primary: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    roles_now: set[int] = field(default_factory=set)
    roles_past: set[int] = field(default_factory=set)
    employers_now: set[str] = field(default_factory=set)
    employers_past: set[str] = field(default_factory=set)
    # Pending writes of the current chunk.
    changes: dict[str, list[Any]] = field(default_factory=dict)
    new_contacts: list[tuple[str, str, str, str, bool]] = field(default_factory=list)
    new_tags: list[str] = field(default_factory=list)
    new_roles: list[tuple[RoleType, dt.date | None, _Org | None]] = field(default_factory=list)
    dirty: bool = False
    prepared: bool = False  # ``_Job.prepare`` has run on the pending writes
    document: str = ""  # a new party's search document (``_Job.prepare``)
    # A new party made of one row: that row's precomputed document, if it has one.
    row_document: str | None = None

    @property
    def is_new(self) -> bool:
        return self.party is None or self.party.pk is None

    def reset_pending(self) -> None:
        self.changes, self.new_contacts, self.new_tags, self.new_roles = {}, [], [], []
        self.dirty = self.prepared = False


@dataclass
class _Counts:
    processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    orgs_created: int = 0

    def add(self, other: _Counts) -> None:
        self.processed += other.processed
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.errors.extend(other.errors)
        self.orgs_created += other.orgs_created


_CHANNEL_LABELS = {
    "email": "This e-mail",
    "phone": "This phone number",
    "website": "This website",
    EXTERNAL: "This external id",
    "uuid": "This id",
    "name": "This name",
}


def _key_label(key: tuple[str, str]) -> str:
    return _CHANNEL_LABELS.get(key[0], f"This {key[0]} handle")


class _Job:
    """State of one run: caches that outlive a chunk, and the per-chunk matching."""

    def __init__(self, job: ImportJob, actor):
        self.job = job
        self.actor = actor
        self.kind = KINDS[job.kind]
        self.dry_run = job.dry_run
        self.validator = _Validator(self.kind, job.mapping, vcard_file=job.file_format == "vcard")
        self.employee = self.validator.roles.get(EMPLOYEE)
        self.today = timezone.localdate()
        self.sees_everything = bool(getattr(actor, "sees_everything", False))
        self.orgs: dict[str, _Org] = {}
        self.tag_ids: dict[str, int] | None = None
        # A dry run writes nothing, so rows of later chunks can only meet earlier
        # "created" rows through these job-wide indexes; a real run finds them in the
        # database and starts each chunk afresh to keep memory flat.
        self.keys: dict[tuple[str, str], _Entity] = {}
        self.names: dict[tuple[str, str], _Entity] = {}
        self.stored: dict[int, _Entity] = {}  # stored parties met so far, by id
        # What planning read of stored parties, to tell at write time whether it still
        # holds (``still_current``): the party rows and, for live ones, their related rows.
        self.read_parties: set[tuple] = set()
        self.read_related: dict[int, tuple] = {}
        self.party_ct = ContentType.objects.get_for_model(Party)

    # -- loading

    def _match_keys(self, row: _Row) -> list[tuple[tuple[str, str], str]]:
        """Keys that identify the row's record, with the column each came from."""
        keys = []
        for channel_name, normalized, _value, _label, source in row.contacts:
            if channel_name == ContactPoint.POSTAL:
                continue
            if channel_name == ContactPoint.WEBSITE and self.kind == Party.Kind.PERSON:
                continue  # a person's website is often their employer's: not an identity
            keys.append(((channel_name, normalized), source))
        if row.external:
            keys.append(((EXTERNAL, row.external[0]), row.external[2]))
            if row.external_uuid:
                keys.append((("uuid", str(row.external_uuid)), row.external[2]))
        return keys

    def _unique_keys(self, row: _Row) -> list[tuple[tuple[str, str], str]]:
        """Keys the database holds unique: none may belong to another record."""
        keys = [
            ((channel_name, normalized), source)
            for channel_name, normalized, _v, _l, source in row.contacts
            if channel_name != ContactPoint.POSTAL
        ]
        if row.external:
            keys.append(((EXTERNAL, row.external[0]), row.external[2]))
        return keys

    def _load_entities(self, pks: set[int]) -> dict[int, _Entity]:
        """Entities for stored parties (merged ones resolve to their survivor).

        A party already loaded in this run (a dry run keeps them across chunks) keeps
        its entity, and every key of a loaded party is indexed, so a party met through
        two different keys is one entity.
        """
        out = {pk: self.stored[pk] for pk in pks if pk in self.stored}
        pending = {pk for pk in pks if pk not in self.stored}
        redirects: dict[int, int] = {}
        parties: dict[int, _Stored] = {}
        # Plain rows rather than model instances: a chunk can match a thousand records,
        # and only these columns matter (the search document, for one, is large).
        pending_all = set(pending)
        qs = Party.objects.all()
        if not self.dry_run and transaction.get_connection().in_atomic_block:
            # Planned under the write transaction (a retry): lock what it reads. Planned
            # before it, ``still_current`` locks and checks the same rows instead.
            qs = qs.select_for_update()
        for _ in range(10):  # merge chains are short; the bound guards against cycles
            if not pending:
                break
            batch = [
                _Stored(row)
                for row in qs.filter(pk__in=pending).values(*_STORED_FIELDS, "updated_at")
            ]
            pending = set()
            for party in batch:
                if not self.dry_run:
                    self.read_parties.add(_party_version(party))
                parties[party.pk] = party
                if party.status == Party.Status.MERGED and party.merged_into_id:
                    redirects[party.pk] = party.merged_into_id
                    if party.merged_into_id not in parties:
                        pending.add(party.merged_into_id)
        live = {pk: p for pk, p in parties.items() if pk not in redirects and pk not in self.stored}
        visible = (
            set(live)
            if self.sees_everything or not live
            else set(
                access.scope_parties(self.actor, Party.objects.filter(pk__in=live)).values_list(
                    "pk", flat=True
                )
            )
        )
        entities: dict[int, _Entity] = {}
        for pk, party in live.items():
            entities[pk] = _Entity(
                kind=party.kind,
                label=party.display_name,
                party=party,
                values={
                    name: getattr(party, name)
                    for name in _FIELD_NAMES
                    if getattr(party, name) not in ("", None)
                },
                interests=list(party.interests or []),
                attributes=dict(party.attributes or {}),
                status=party.status,
                visible=pk in visible,
            )
        contacts, tags, rels, employer_names = _related_rows(live)
        if not self.dry_run:
            self.read_related.update(_by_party(live, contacts, tags, rels, employer_names))
        for pid, ch, normalized, primary, _updated in contacts:
            entity = entities[pid]
            if ch == ContactPoint.POSTAL:
                entity.postal.add(normalized)
            else:
                entity.keys.add((ch, normalized))
            if primary:
                entity.primary.add(ch)
        for pid, name in tags:
            entities[pid].tags.add(name.casefold())
        for pid, role_id, object_id, valid_to in rels:
            object_name = employer_names.get(object_id)
            entity = entities[pid]
            now_or_later = valid_to is None or valid_to >= self.today
            if object_id is None:
                (entity.roles_now if now_or_later else entity.roles_past).add(role_id)
            else:
                (entity.employers_now if now_or_later else entity.employers_past).add(object_name)
        for pk, entity in list(entities.items()):
            if pk in self.stored:  # a survivor loaded earlier through another key
                entities[pk] = entity = self.stored[pk]
            self.stored[pk] = entity
            for key in entity.keys:
                self.keys.setdefault(key, entity)
            self.keys.setdefault(("uuid", str(entity.party.public_id)), entity)
        for pk in pending_all:
            target = pk
            for _ in range(10):
                if target not in redirects:
                    break
                target = redirects[target]
            if target in entities:
                out[pk] = entities[target]
            elif target in self.stored:
                out[pk] = self.stored[target]
        return out

    def still_current(self) -> bool:
        """Whether the stored parties planning read are as it read them; locks them.

        Called first thing in the write transaction of a chunk planned before it. A
        change since (an edit, a merge, a contact point, tag or role added or removed)
        means the plan may overwrite it or miss it, so the chunk is planned again under
        the lock. A record created meanwhile with one of the chunk's e-mails or phones
        needs no check here: the insert clashes with it and the chunk is retried.
        """
        if not self.read_parties:
            return True
        ids = {version[0] for version in self.read_parties}
        locked = Party.objects.select_for_update().filter(pk__in=ids)
        if set(locked.values_list(*_CHECKED)) != self.read_parties:
            return False
        live = set(self.read_related)
        return _by_party(live, *_related_rows(live)) == self.read_related

    def _lookup(self, rows: list[_Row]) -> None:
        """Index every stored record the chunk's rows can meet, with few queries."""
        wanted = {k for row in rows for k, _ in self._unique_keys(row) if k not in self.keys}
        uuids = {
            row.external_uuid
            for row in rows
            if row.external_uuid and ("uuid", str(row.external_uuid)) not in self.keys
        }
        owners: dict[tuple[str, str], int] = {}
        if wanted:
            normalized = {n for _, n in wanted}
            for ch, n, pid in ContactPoint.objects.filter(normalized__in=normalized).values_list(
                "channel", "normalized", "party_id"
            ):
                if (ch, n) in wanted:
                    owners[(ch, n)] = pid
        if uuids:
            for public_id, pid in Party.objects.filter(
                public_id__in=uuids, kind=self.kind
            ).values_list("public_id", "pk"):
                owners[("uuid", str(public_id))] = pid
        # Rows with no identifying key meet records by name and employer.
        name_rows = [row for row in rows if not self._match_keys(row) and row.display_name]
        wanted_names = {(row.sort_name, row.organization.casefold()[:300]) for row in name_rows}
        wanted_names -= set(self.names)
        name_owner: dict[tuple[str, str], int] = {}
        if wanted_names:
            candidates = access.scope_parties(
                self.actor,
                Party.objects.filter(
                    kind=self.kind,
                    status=Party.Status.ACTIVE,
                    sort_name__in={n for n, _ in wanted_names},
                ),
            ).order_by("pk")
            ids_names = list(candidates.values_list("pk", "sort_name"))
            employers: dict[int, set[str]] = {}
            if self.kind == Party.Kind.PERSON and ids_names:
                for pid, org_name in (
                    Relationship.objects.current()
                    .filter(
                        subject_id__in=[pid for pid, _ in ids_names],
                        role__slug=EMPLOYEE,
                        object__isnull=False,
                    )
                    .values_list("subject_id", "object__sort_name")
                ):
                    employers.setdefault(pid, set()).add(org_name)
            for pid, sort_name in ids_names:
                for org_key in employers.get(pid) or {""}:
                    if (sort_name, org_key) in wanted_names:
                        name_owner.setdefault((sort_name, org_key), pid)
        entities = self._load_entities(set(owners.values()) | set(name_owner.values()))
        for key, pid in owners.items():
            if pid in entities:
                self.keys[key] = entities[pid]
        for key, pid in name_owner.items():
            if pid in entities:
                self.names[key] = entities[pid]

    def _load_orgs(self, rows: list[_Row]) -> None:
        names = {row.organization.casefold()[:300]: row.organization for row in rows}
        names = {k: v for k, v in names.items() if k and k not in self.orgs}
        if not names:
            return
        found = access.scope_parties(
            self.actor,
            Party.objects.filter(
                kind=Party.Kind.ORGANIZATION, status=Party.Status.ACTIVE, sort_name__in=names
            ),
        ).order_by("pk")
        for pk, public_id, sort_name, display_name in found.values_list(
            "pk", "public_id", "sort_name", "display_name"
        ):
            if sort_name not in self.orgs:
                self.orgs[sort_name] = _Org(display_name, pk=pk, public_id=public_id)
        for key, name in names.items():
            self.orgs.setdefault(key, _Org(name))

    # -- planning

    def _apply(self, entity: _Entity, row: _Row, counts_as_new: bool) -> bool:
        """Fold ``row`` into ``entity``: fill empty fields, add what is missing."""
        changed = False
        for name, value in row.fields.items():
            if name == "display_name" and not counts_as_new:
                continue  # a stored record's name is never replaced by an import
            if entity.values.get(name) in ("", None):
                entity.changes[name] = [None, value]
                entity.values[name] = value
                changed = True
        known = {i.casefold() for i in entity.interests}
        added = [i for i in row.interests if i.casefold() not in known]
        if added:
            entity.changes["interests"] = [list(entity.interests), entity.interests + added]
            entity.interests = entity.interests + added
            changed = True
        new_attrs = {k: v for k, v in row.attributes.items() if k not in entity.attributes}
        if new_attrs:
            entity.changes.setdefault("attributes", [dict(entity.attributes), None])
            entity.attributes = {**entity.attributes, **new_attrs}
            entity.changes["attributes"][1] = dict(entity.attributes)
            changed = True
        for ch, normalized, value, label, _source in row.contacts:
            if ch == ContactPoint.POSTAL:
                if normalized in entity.postal:
                    continue
                entity.postal.add(normalized)
            else:
                if (ch, normalized) in entity.keys:
                    continue
                entity.keys.add((ch, normalized))
                self.keys[(ch, normalized)] = entity
            entity.new_contacts.append((ch, normalized, value, label, ch not in entity.primary))
            entity.primary.add(ch)
            changed = True
        if row.external and (EXTERNAL, row.external[0]) not in entity.keys:
            matched_by_uuid = (
                row.external_uuid is not None
                and entity.party is not None
                and entity.party.public_id == row.external_uuid
            )
            if not matched_by_uuid:  # our own public id needs no bookkeeping
                key = (EXTERNAL, row.external[0])
                entity.keys.add(key)
                self.keys[key] = entity
                entity.new_contacts.append(
                    (EXTERNAL, row.external[0], row.external[1], "import id", False)
                )
                changed = True
        for tag in row.tags:
            if tag.casefold() not in entity.tags:
                entity.tags.add(tag.casefold())
                entity.new_tags.append(tag)
                changed = True
        for role in row.roles:
            if role.pk in entity.roles_now:
                continue
            # Open-ended from an unknown start, unless that would overlap an old period.
            start = self.today if role.pk in entity.roles_past else None
            entity.roles_now.add(role.pk)
            entity.new_roles.append((role, start, None))
            changed = True
        if row.organization and self.employee is not None:
            org = self.orgs[row.organization.casefold()[:300]]
            if org.key not in entity.employers_now:
                start = self.today if org.key in entity.employers_past else None
                entity.employers_now.add(org.key)
                entity.new_roles.append((self.employee, start, org))
                changed = True
        entity.dirty = entity.dirty or changed
        return changed

    def plan(self, rows: list[_Row], counts: _Counts) -> list[_Entity]:
        """Match every row and fold it into an entity; returns the entities to write."""
        if not self.dry_run:
            self.keys, self.names, self.stored = {}, {}, {}
            self.read_parties, self.read_related = set(), {}
        self._lookup(rows)
        if self.kind == Party.Kind.PERSON:
            self._load_orgs(rows)
        touched: list[_Entity] = []
        seen: set[int] = set()
        for row in rows:
            entity, errors = self._resolve(row)
            if errors:
                counts.errors.extend(errors)
                continue
            is_new = entity is None
            if is_new:
                entity = _Entity(kind=self.kind, label=row.display_name, row_document=row.document)
                self.names.setdefault((row.sort_name, row.organization.casefold()[:300]), entity)
            else:
                entity.row_document = None  # a second row folds in: made afresh
            changed = self._apply(entity, row, counts_as_new=is_new)
            if is_new:
                counts.created += 1
                entity.dirty = True
            elif changed:
                counts.updated += 1
            else:
                counts.unchanged += 1
            if id(entity) not in seen and entity.dirty:
                seen.add(id(entity))
                touched.append(entity)
        return touched

    def _resolve(self, row: _Row) -> tuple[_Entity | None, list[dict[str, Any]]]:
        """The record ``row`` belongs to (None: a new one), or the reasons it cannot be had."""

        def reject(source: str, message: str, value: str = "") -> tuple[None, list[dict[str, Any]]]:
            error = {"row": row.number, "field": source, "message": message, "value": value}
            return None, [error]

        match_keys = self._match_keys(row)
        found: list[tuple[_Entity, tuple[str, str], str]] = []
        for key, source in match_keys:
            entity = self.keys.get(key)
            if entity is not None and all(entity is not e for e, _, _ in found):
                found.append((entity, key, source))
        if len(found) > 1:
            (a, key_a, _), (b, key_b, source_b) = found[0], found[1]
            return reject(
                source_b,
                f"{_key_label(key_a)[5:].capitalize()} matches {a.label} but "
                f"{_key_label(key_b)[5:]} matches {b.label}; merge the two records first.",
                key_b[1],
            )
        target = found[0][0] if found else None
        if target is None and not match_keys and row.display_name:
            target = self.names.get((row.sort_name, row.organization.casefold()[:300]))
        for key, source in self._unique_keys(row):
            owner = self.keys.get(key)
            if owner is not None and owner is not target:
                if not owner.visible:
                    return reject(
                        source,
                        f"{_key_label(key)} already belongs to a record you cannot see.",
                        key[1],
                    )
                return reject(
                    source, f"{_key_label(key)} already belongs to {owner.label}.", key[1]
                )
        if target is not None:
            key, source = (found[0][1], found[0][2]) if found else (("name", ""), row.name_source)
            if not target.visible:
                return reject(
                    source, f"{_key_label(key)} already belongs to a record you cannot see."
                )
            if target.status == Party.Status.ERASED:
                return reject(source, f"{_key_label(key)} belongs to an erased record.")
            if target.kind != self.kind:
                other = "a person" if target.kind == Party.Kind.PERSON else "an organisation"
                return reject(source, f"{_key_label(key)} belongs to {other}: {target.label}.")
            return target, []
        if not row.display_name:
            needed = (
                "A person needs a name."
                if self.kind == Party.Kind.PERSON
                else "An organisation needs a name."
            )
            return reject(row.name_source, needed)
        missing = [
            key
            for key, d in self.validator.definitions.items()
            if d.required and d.applies_to in ("any", self.kind) and key not in row.attributes
        ]
        if missing:
            return reject(f"attr:{missing[0]}", "This field is required.")
        return None, []

    def count_planned_orgs(self, entities: list[_Entity]) -> int:
        """How many new organisations a dry run's chunk would create (each counted once)."""
        count = 0
        for entity in entities:
            for _role, _start, org in entity.new_roles:
                if org is not None and org.pk is None and not org.planned:
                    org.planned = True
                    count += 1
        return count

    def forget_unsaved(self) -> None:
        """After a rollback: drop caches that may name rows which no longer exist."""
        self.orgs, self.tag_ids, self.keys, self.names, self.stored = {}, None, {}, {}, {}

    # -- writing

    def prepare(self, entities: list[_Entity]) -> None:
        """Work out what ``write`` stores that depends on the plan alone: new parties'
        search documents (done before the write transaction when the plan is; ``write``
        does it for entities not yet done). Contact points' display values were made
        with the rows' validation."""
        for entity in entities:
            if entity.prepared:
                continue
            entity.prepared = True
            if entity.is_new:
                entity.document = entity.row_document or _new_document(entity)

    def write(self, entities: list[_Entity]) -> int:
        """Insert and update everything ``entities`` carry; returns organisations created."""
        self.prepare(entities)
        now = timezone.now()
        owner_id = getattr(self.actor, "pk", None)
        new_orgs: list[_Org] = []
        seen_orgs: set[int] = set()
        for entity in entities:
            for _role, _start, org in entity.new_roles:
                if org is not None and org.pk is None and id(org) not in seen_orgs:
                    seen_orgs.add(id(org))
                    new_orgs.append(org)
        org_parties = _insert_parties(
            [
                {
                    "kind": Party.Kind.ORGANIZATION,
                    "display_name": org.name,
                    "sort_name": org.key,
                    "owner_id": owner_id,
                    "visibility": Visibility.EVERYONE,
                    "search_text": search.build_document(names=[org.name]),
                }
                for org in new_orgs
            ],
            now,
        )
        for org, party in zip(new_orgs, org_parties, strict=True):
            org.pk, org.public_id, org.party = party.pk, party.public_id, party

        created = [e for e in entities if e.is_new]
        rows = []
        for entity in created:
            row = dict(entity.values)
            row.setdefault("display_name", entity.label)
            row.update(
                kind=entity.kind,
                sort_name=row["display_name"].casefold()[:300],
                interests=entity.interests,
                attributes=entity.attributes,
                owner_id=owner_id,
                visibility=Visibility.EVERYONE,
                search_text=entity.document,
            )
            rows.append(row)
        for entity, party in zip(created, _insert_parties(rows, now), strict=True):
            entity.party = party

        created_ids = {id(e) for e in created}
        updated = [e for e in entities if id(e) not in created_ids]
        for entity in updated:
            for name in entity.changes:
                if name in _FIELD_NAMES:
                    setattr(entity.party, name, entity.values.get(name))
                elif name == "interests":
                    entity.party.interests = entity.interests
                elif name == "attributes":
                    entity.party.attributes = entity.attributes
            entity.party.updated_at = now
        _update(
            [(e.party, [n for n in e.changes if n in _UPDATABLE]) for e in updated],
            always=("updated_at",),
        )

        insert_rows(
            ContactPoint,
            [
                {
                    "party_id": entity.party.pk,
                    "channel": ch,
                    "value": value,
                    "normalized": normalized,
                    "label": label,
                    "primary": primary,
                }
                for entity in entities
                for ch, normalized, value, label, primary in entity.new_contacts
            ],
            now,
        )
        self._write_tags(entities, now)
        insert_rows(
            Relationship,
            [
                {
                    "subject_id": e.party.pk,
                    "role_id": role.pk,
                    "object_id": org.pk if org else None,
                    "valid_from": start,
                }
                for e in entities
                for role, start, org in e.new_roles
            ],
            now,
        )
        self._write_audit_and_events(created, updated, new_orgs, now)
        # New parties carry their documents already; known ones may have new contacts
        # or companies, so they are rebuilt (and left alone when nothing changed).
        search.index_new(
            [(p.pk, p.search_text) for p in (*org_parties, *(e.party for e in created))]
        )
        search.reindex([e.party.pk for e in updated])
        return len(new_orgs)

    def _write_tags(self, entities: list[_Entity], now: dt.datetime) -> None:
        wanted = {t.casefold(): t for e in entities for t in e.new_tags}
        if not wanted:
            return
        if self.tag_ids is None:
            self.tag_ids = {}
            for name, pk in Tag.objects.values_list("name", "pk"):
                self.tag_ids.setdefault(name.casefold(), pk)
        missing = [name for key, name in wanted.items() if key not in self.tag_ids]
        if missing:
            Tag.objects.bulk_create([Tag(name=n) for n in missing], ignore_conflicts=True)
            for name, pk in Tag.objects.filter(name__in=missing).values_list("name", "pk"):
                self.tag_ids.setdefault(name.casefold(), pk)
        insert_rows(
            Party.tags.through,
            [
                {"party_id": e.party.pk, "tag_id": self.tag_ids[t.casefold()]}
                for e in entities
                for t in e.new_tags
            ],
            now,
        )

    def _write_audit_and_events(
        self,
        created: list[_Entity],
        updated: list[_Entity],
        new_orgs: list[_Org],
        now: dt.datetime,
    ) -> None:
        """One audit entry per party created or changed, and one batch event per kind
        of change for the whole chunk (``events.emit_batch``, bulk lane): it stands for
        one ``person.created`` / ``…updated`` event per party, whose data names the roles
        the import added, so subscribers (rules, timelines) learn of them, set-wise when
        they can, without an outbox row per imported row."""
        actor = self.actor if getattr(self.actor, "is_authenticated", False) else None
        actor_label = actor.get_username() if actor else "system"
        channel_name = current_channel()
        job_id = str(self.job.public_id)
        audits: list[dict[str, Any]] = []
        batches: dict[str, list[events.BatchItem]] = {}

        def add(party: Party, action: str, changes: dict, data: dict) -> None:
            # The same fields audit.record writes, row by row.
            audits.append(
                {
                    "occurred_at": now,
                    "actor_id": actor.pk if actor else None,
                    "actor_label": actor_label,
                    "channel": channel_name,
                    "action": action,
                    "object_type_id": self.party_ct.pk,
                    "object_id": party.pk,
                    "object_public_id": party.public_id,
                    "object_label": party.display_name[:300],
                    "party_id": party.pk,
                    "changes": _json_safe(changes),
                }
            )
            batches.setdefault(action, []).append(
                events.BatchItem(party.pk, party.public_id, _json_safe(data))
            )

        def roles(entity: _Entity) -> list[str]:
            return [
                role.slug + (f" of {org.name}" if org else "") for role, _s, org in entity.new_roles
            ]

        def contacts(entity: _Entity) -> list[str]:
            return [f"{c}: {v}" for c, _n, v, _l, _p in entity.new_contacts]

        for org in new_orgs:
            add(
                org.party,
                "organization.created",
                {"display_name": org.name, "import_job": job_id},
                {"display_name": org.name},
            )
        for entity in created:
            party = entity.party
            noun = "person" if party.kind == Party.Kind.PERSON else "organization"
            snapshot = dict(entity.values)
            snapshot.update(
                display_name=party.display_name,
                interests=entity.interests,
                attributes=entity.attributes,
                visibility=party.visibility,
                owner=party.owner_id,
                contact_points=contacts(entity),
                tags=entity.new_tags,
                roles=roles(entity),
                import_job=job_id,
            )
            add(
                party,
                f"{noun}.created",
                snapshot,
                {"display_name": party.display_name, "roles": roles(entity)},
            )
        for entity in updated:
            party = entity.party
            noun = "person" if party.kind == Party.Kind.PERSON else "organization"
            changes = dict(entity.changes)
            if entity.new_contacts:
                changes["contact_points"] = [None, contacts(entity)]
            if entity.new_tags:
                changes["tags"] = [None, entity.new_tags]
            if entity.new_roles:
                changes["roles"] = [None, roles(entity)]
            data = {"changed": sorted(changes)}
            if entity.new_roles:
                data["roles"] = roles(entity)
            changes["import_job"] = [None, job_id]
            add(party, f"{noun}.updated", changes, data)
        insert_rows(AuditEntry, audits, now)
        for name, items in batches.items():
            events.emit_batch(
                name,
                object_type="people.party",
                items=items,
                actor=actor,
                data={"import_job": job_id},
            )


# ---------------------------------------------------------------- bulk SQL


def _party_document(
    fields: dict[str, Any],
    label: str,
    contacts: Iterable[tuple[str, str]],
    companies: Iterable[str],
) -> str:
    """The search document of a party this import creates: its display name (or
    ``label``) and other names, its ``(channel, normalized)`` contact points and the
    organisations it joins."""
    return search.build_document(
        names=[fields.get("display_name") or label, *(fields.get(n) or "" for n in _NAME_FIELDS)],
        contacts=contacts,
        companies=companies,
    )


def _new_document(entity: _Entity) -> str:
    """The document of a new party from what it will write: its values, its contact
    points and the organisations it joins (all current roles)."""
    return _party_document(
        entity.values,
        entity.label,
        [(channel, normalized) for channel, normalized, *_ in entity.new_contacts],
        [org.name for _role, _start, org in entity.new_roles if org is not None],
    )


def _row_document(row: _Row) -> str:
    """``_new_document`` of the party ``_Job.plan`` makes of ``row`` alone, from the row:
    its fields, its contact points then the external id (the order ``_Job._apply`` adds
    them in) and its employer. The employer's stored name may differ from the row's in
    case only (it is found by its folded name), which the document's words fold away."""
    contacts = [(channel, normalized) for channel, normalized, *_ in row.contacts]
    if row.external:
        contacts.append((EXTERNAL, row.external[0]))
    companies = [row.organization] if row.organization else []
    return _party_document(row.fields, row.display_name, contacts, companies)


_NAME_FIELDS = ("given_name", "family_name", "legal_name")


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    """``audit.jsonable`` for what an import writes: only dates need turning into text.

    Everything else in these dicts is already JSON (validated strings, numbers, lists),
    and walking every value the generic way costs more than the insert itself.
    """
    out = {}
    for key, value in data.items():
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, list) and any(isinstance(v, dt.date) for v in value):
            value = jsonable(value)
        out[key] = value
    return out


# Fields an import may change on a stored party (besides updated_at).
_UPDATABLE = {*_FIELD_NAMES, "interests", "attributes"}


def _insert_parties(rows: list[dict[str, Any]], now: dt.datetime) -> list[_Stored]:
    """Insert parties given as field values; returns them as ``_Stored`` with their ids."""
    pks = insert_rows(Party, rows, now, returning_pk=True)
    return [_Stored({**row, "id": pk}) for row, pk in zip(rows, pks, strict=True)]


def _update(changes: list[tuple[_Stored, list[str]]], *, always: tuple[str, ...]) -> None:
    """UPDATE each party's listed fields (plus ``always``), one statement per field set."""
    groups: dict[tuple[str, ...], list[list[Any]]] = {}
    for obj, names in changes:
        fields = tuple(sorted(set(names))) + always
        params = [
            Party._meta.get_field(n).get_db_prep_save(getattr(obj, n), connection) for n in fields
        ]
        groups.setdefault(fields, []).append([*params, obj.pk])
    quote = connection.ops.quote_name
    table = quote(Party._meta.db_table)
    with connection.cursor() as cursor:
        for fields, rows in groups.items():
            sets = ", ".join(f"{quote(Party._meta.get_field(n).column)} = %s" for n in fields)
            cursor.executemany(
                f"UPDATE {table} SET {sets} WHERE {quote('id')} = %s",  # noqa: S608
                rows,
            )


# ---------------------------------------------------------------- jobs


def create_import_job(
    *,
    actor,
    kind: str,
    file_format: str,
    file_name: str,
    content: str | bytes,
    mapping: dict[str, str] | None,
    dry_run: bool,
) -> ImportJob:
    """Check the file can be read and the mapping makes sense; queue a job for it.

    ``mapping`` maps CSV column names to targets (``None``: suggest one from the
    header names); vCard files need none. Raises ``ValidationFailed`` with field errors
    (``kind``, ``format``, ``file``, ``mapping.<column>``) when the job could not run.
    """
    errors: list[FieldError] = []
    if kind not in KINDS:
        errors.append(FieldError("kind", "Must be people or organizations."))
    if file_format not in FORMATS:
        errors.append(FieldError("format", "Must be csv or vcard."))
    if mapping is not None and not isinstance(mapping, dict):
        errors.append(FieldError("mapping", "Must be an object of column name to target."))
    if errors:
        raise ValidationFailed(errors=errors)
    text, warning = decode_content(content)
    if not text.strip():
        raise ValidationFailed.single("file", "The file is empty.")
    party_kind = KINDS[kind]
    if file_format == "csv":
        headers = read_csv_header(text)
        if mapping is None:
            mapping = suggest_mapping(headers, kind)
            if not mapping:
                raise ValidationFailed.single(
                    "mapping",
                    "No column name was recognised; give a mapping such as "
                    '{"Mail": "email", "Who": "display_name"}.',
                )
        cleaned, errors = _clean_mapping(
            {str(k): str(v or "") for k, v in mapping.items()}, headers, party_kind, _definitions()
        )
        if errors:
            raise ValidationFailed("The column mapping is not valid.", errors=errors)
        total = _count_csv_rows(text)
        if not total:
            raise ValidationFailed.single("file", "The file has a header row but no data rows.")
    else:
        cleaned = {}
        # Pictures are not imported: drop them before the text is stored or parsed.
        text, left_out = importable_text(text, file_format)
        warning = " ".join(p for p in (warning, left_out) if p)
        total = vcard.count_cards(text)
        if not total:
            raise ValidationFailed.single(
                "file", "No vCard found: the file must hold BEGIN:VCARD … END:VCARD blocks."
            )
    digest = hashlib.sha256(text.encode()).hexdigest()
    notes = [warning] if warning else []
    if ImportJob.objects.filter(
        content_hash=digest, kind=kind, dry_run=False, status=ImportJob.Status.DONE
    ).exists():
        notes.append(
            "This file was imported before; rows already imported will count as unchanged."
        )
    return ImportJob.objects.create(
        created_by=actor if getattr(actor, "pk", None) else None,
        kind=kind,
        file_format=file_format,
        file_name=(file_name or "")[:255],
        content=text,
        content_hash=digest,
        mapping=cleaned,
        dry_run=bool(dry_run),
        total_rows=total,
        message=" ".join(notes),
    )


def _batched(items: Iterable[_RawRow], size: int) -> Iterator[list[_RawRow]]:
    batch: list[_RawRow] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _claim(job_id: int) -> tuple[ImportJob, bool] | None:
    """Mark the job running; None when it is done or another process is on it.

    A job left ``running`` by a process that died (its heartbeat older than
    ``KITH_IMPORT_STALE_SECONDS``), marked ``stale``, ``failed``, or queued again by
    ``resume_import_job`` resumes after its last saved chunk: progress is saved in each
    chunk's own transaction, so the counts match what was written.
    """
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        now = timezone.now()
        if job.status == ImportJob.Status.DONE:
            return None
        if job.status == ImportJob.Status.RUNNING and not job.is_stale(now):
            return None
        resume = (
            not job.dry_run
            and job.processed_rows > 0
            and len(job.errors) == job.error_count  # errors were saved with the progress
        )
        if not resume:
            job.processed_rows = job.created_count = job.updated_count = 0
            job.unchanged_count = job.error_count = 0
            job.errors = []
        job.status = ImportJob.Status.RUNNING
        job.started_at = job.started_at or now
        job.finished_at = None
        job.heartbeat_at = now
        job.save()
    return job, resume


def mark_stale_jobs() -> int:
    """Mark ``stale`` every running import whose heartbeat stopped; returns how many.

    Run by the worker every minute and before jobs are listed, so a killed ``kith
    import`` shows as stopped, with what to do, instead of running forever.
    """
    cutoff = timezone.now() - dt.timedelta(seconds=settings.KITH_IMPORT_STALE_SECONDS)
    marked = 0
    candidates = ImportJob.objects.filter(status=ImportJob.Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, updated_at__lt=cutoff)
    )
    for pk in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            job = ImportJob.objects.select_for_update().get(pk=pk)
            if not job.is_stale() or job.status != ImportJob.Status.RUNNING:
                continue  # it beat again meanwhile
            job.status = ImportJob.Status.STALE
            job.message = (
                f"The import stopped after {job.processed_rows} of {job.total_rows} rows "
                "(its process no longer reports progress). Resume it to continue after the "
                "last saved row, or restart it from the top."
            )
            job.save(update_fields=["status", "message", "updated_at"])
            marked += 1
    return marked


RESTARTABLE = (ImportJob.Status.STALE, ImportJob.Status.FAILED)


def _require_restartable(job: ImportJob) -> None:
    if job.status == ImportJob.Status.RUNNING and job.is_stale():
        return
    if job.status not in RESTARTABLE:
        raise Conflict(
            f"Only a stalled or failed import can be resumed or restarted; this one is "
            f"{job.get_status_display().lower()}.",
            errors=[FieldError("status", f"Is {job.status}.")],
        )


def resume_import_job(*, actor, job: ImportJob) -> ImportJob:
    """Queue a stalled or failed import again, to continue after its last saved chunk.

    Idempotent like any import: a row written before the stop is never written twice
    (the counts were saved with it; and re-reading it would find it unchanged).
    """
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        _require_restartable(job)
        job.status = ImportJob.Status.QUEUED
        job.finished_at = None
        job.message = f"Resumed after row {job.processed_rows} of {job.total_rows}."
        job.save()
        audit.record(
            actor=actor, action="import.resumed", obj=job, changes={"from": job.processed_rows}
        )
    return job


def restart_import_job(*, actor, job: ImportJob) -> ImportJob:
    """Queue a stalled or failed import again from the first row, with fresh counts.

    Rows the first attempt wrote match their records and count as unchanged, so a
    restart creates no duplicates.
    """
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        _require_restartable(job)
        job.status = ImportJob.Status.QUEUED
        job.processed_rows = job.created_count = job.updated_count = 0
        job.unchanged_count = job.error_count = 0
        job.errors = []
        job.started_at = job.finished_at = None
        job.message = "Restarted from the first row."
        job.save()
        audit.record(actor=actor, action="import.restarted", obj=job, changes={})
    return job


def _progress_fields(counts: _Counts, *, with_errors: bool) -> dict[str, Any]:
    fields = {
        "processed_rows": counts.processed,
        "created_count": counts.created,
        "updated_count": counts.updated,
        "unchanged_count": counts.unchanged,
        "error_count": len(counts.errors),
        "updated_at": timezone.now(),
        "heartbeat_at": timezone.now(),
    }
    if with_errors:
        fields["errors"] = counts.errors
    return fields


def _sync(job: ImportJob, counts: _Counts) -> None:
    for name, value in _progress_fields(counts, with_errors=True).items():
        setattr(job, name, value)


def run_import_job(
    job_id: int, *, progress: Callable[[ImportJob], None] | None = None
) -> ImportJob:
    """Run (or resume) an import job to the end; ``progress(job)`` is called after each chunk.

    Rows are written chunk by chunk, each chunk in its own transaction; a row either
    lands whole or is listed in ``job.errors`` with its reason.
    """
    claimed = _claim(job_id)
    if claimed is None:
        return ImportJob.objects.get(pk=job_id)
    job, resume = claimed
    counts = _Counts(
        processed=job.processed_rows,
        created=job.created_count,
        updated=job.updated_count,
        unchanged=job.unchanged_count,
        errors=list(job.errors),
    )
    actor = job.created_by
    try:
        if actor is None or not actor.is_active:
            raise ValidationFailed.single(
                "created_by", "The user who started this import no longer exists or is inactive."
            )
        with channel("import"), events.deferred_delivery(), events.old_objects_frozen():
            runner = _Job(job, actor)
            first_row = job.processed_rows if resume else 0

            # Validation needs no database: on a file of several chunks it runs one chunk
            # ahead in a child process, on another core, while this one writes.
            validate_ahead = settings.KITH_IMPORT_VALIDATE_AHEAD and (
                job.total_rows - first_row > CHUNK_SIZE
            )

            def validated_chunks(skip_chunks: int) -> Iterator[_Validated]:
                rows = _iter_raw_rows(job)
                skip_rows = first_row + skip_chunks * CHUNK_SIZE
                if skip_rows:
                    rows = (row for index, row in enumerate(rows) if index >= skip_rows)
                for chunk in _batched(rows, CHUNK_SIZE):
                    yield _validate_chunk(runner.validator, chunk, documents=validate_ahead)

            chunks = ahead.produced_ahead(validated_chunks, enabled=validate_ahead)
            # closing: a chunk that raises ends the child at once, not when collected.
            with contextlib.closing(chunks):
                for index, validated in enumerate(chunks):
                    counts.add(_run_chunk(runner, validated, counts, index))
                    _sync(job, counts)
                    if progress is not None:
                        progress(job)
                    # In the worker this job holds the thread: let mentions and
                    # notifications through between chunks rather than after the file.
                    events.deliver_interactive()
            _finish(job, counts, runner)
    except Exception as exc:
        logger.exception("import %s failed", job.pk)
        _sync(job, counts)
        job.status = ImportJob.Status.FAILED
        job.finished_at = timezone.now()
        reason = (
            exc.message if isinstance(exc, ValidationFailed) else f"{type(exc).__name__}: {exc}"
        )
        job.message = (
            f"The import stopped after {counts.processed} of {job.total_rows} rows: {reason} "
            "Rows before that point are saved; run the import again to continue."
        ).strip()
        job.save()
        raise
    return job


@dataclass
class _Validated:
    """A chunk of rows after validation: how many, the valid ones, the rejections."""

    processed: int
    valid: list[_Row]
    errors: list[dict[str, Any]]


def _validate_chunk(
    validator: _Validator, raw_rows: list[_RawRow], *, documents: bool = False
) -> _Validated:
    """Validate a chunk; with ``documents`` (in the child that runs ahead, where it costs
    the writer nothing) also make each row's search document should it be new."""
    validated = _Validated(processed=len(raw_rows), valid=[], errors=[])
    for raw in raw_rows:
        if raw.error:
            validated.errors.append(raw.error)
            continue
        row, errors = validator.validate(raw)
        if row is None:
            validated.errors.extend(errors)
        else:
            if documents:
                row.document = _row_document(row)
            validated.valid.append(row)
    return validated


def _run_chunk(runner: _Job, validated: _Validated, totals: _Counts, index: int) -> _Counts:
    """Match and write one validated chunk; returns what it counted."""
    base = _Counts(processed=validated.processed, errors=list(validated.errors))
    valid = validated.valid

    if runner.dry_run:
        counts = _Counts(processed=base.processed, errors=list(base.errors))
        entities = runner.plan(valid, counts)
        counts.orgs_created += runner.count_planned_orgs(entities)
        for entity in entities:
            entity.reset_pending()
        _sort_errors(counts)
        # Only the job's own progress is saved, so the UI can show the bar moving.
        _save_progress(runner.job, totals, counts, index)
        return counts

    for attempt in range(3):
        counts = _Counts(processed=base.processed, errors=list(base.errors))
        try:
            # Planned before the write transaction, so that on SQLite the database's one
            # write lock is held for the writing alone; planning is a third of a chunk's
            # work. ``still_current`` then checks, under the lock, what the plan read.
            entities = runner.plan(valid, counts)
            runner.prepare(entities)
            with transaction.atomic():
                if not runner.still_current():
                    counts = _Counts(processed=base.processed, errors=list(base.errors))
                    entities = runner.plan(valid, counts)
                counts.orgs_created += runner.write(entities)
                _sort_errors(counts)
                _save_progress(runner.job, totals, counts, index)
            return counts
        except IntegrityError:
            # Another writer took an e-mail or phone between our lookup and insert; the
            # chunk rolled back whole, so look again (it now matches) and retry.
            logger.warning("import %s: chunk %s clashed, retry %s", runner.job.pk, index, attempt)
            runner.forget_unsaved()
    # Still clashing: one row per transaction, so only the rows at fault are rejected.
    counts = _Counts(processed=base.processed, errors=list(base.errors))
    for row in valid:
        single = _Counts()
        try:
            with transaction.atomic():
                entities = runner.plan([row], single)
                single.orgs_created += runner.write(entities)
        except IntegrityError:
            runner.forget_unsaved()
            single = _Counts(
                errors=[
                    {
                        "row": row.number,
                        "field": "row",
                        "message": "Clashed with a change saved at the same moment; "
                        "run the import again to pick this row up.",
                        "value": "",
                    }
                ]
            )
        counts.add(single)
    counts.processed = base.processed
    _sort_errors(counts)
    with transaction.atomic():
        _save_progress(runner.job, totals, counts, index)
    return counts


def _sort_errors(counts: _Counts) -> None:
    counts.errors.sort(key=lambda e: e["row"])


def _save_progress(job: ImportJob, totals: _Counts, chunk: _Counts, index: int) -> None:
    """Store the counts including ``chunk``, in the chunk's transaction.

    The error list is rewritten whole each time; past ``ERRORS_SAVE_LIMIT`` errors it
    is saved every tenth chunk only, to keep a file of rejects from costing quadratic
    writes (such a job restarts from the top if its worker dies, which is safe).
    """
    combined = _Counts(
        processed=totals.processed + chunk.processed,
        created=totals.created + chunk.created,
        updated=totals.updated + chunk.updated,
        unchanged=totals.unchanged + chunk.unchanged,
        errors=totals.errors + chunk.errors,
    )
    with_errors = bool(chunk.errors) and (
        len(combined.errors) <= ERRORS_SAVE_LIMIT or index % 10 == 0
    )
    ImportJob.objects.filter(pk=job.pk).update(
        **_progress_fields(combined, with_errors=with_errors)
    )


def _finish(job: ImportJob, counts: _Counts, runner: _Job) -> None:
    _sync(job, counts)
    job.status = ImportJob.Status.DONE
    job.finished_at = timezone.now()
    summary = (
        f"{'Would create' if job.dry_run else 'Created'} {counts.created}, "
        f"{'update' if job.dry_run else 'updated'} {counts.updated}, "
        f"unchanged {counts.unchanged}, rejected {len(counts.errors)} of {counts.processed} rows."
    )
    if counts.orgs_created:
        summary += (
            f" {'Would also create' if job.dry_run else 'Also created'} "
            f"{counts.orgs_created} organisation{'s' if counts.orgs_created != 1 else ''}."
        )
    if job.dry_run:
        summary += " Dry run: nothing was written."
    job.message = " ".join(p for p in (job.message, summary) if p)
    with transaction.atomic():
        job.save()
        if not job.dry_run:
            audit.record(
                actor=runner.actor,
                action="import.finished",
                obj=job,
                changes={
                    "file_name": job.file_name,
                    "kind": job.kind,
                    "created": counts.created,
                    "updated": counts.updated,
                    "unchanged": counts.unchanged,
                    "rejected": len(counts.errors),
                },
            )


# ---------------------------------------------------------------- preview and error report


def preview(
    content: str | bytes,
    mapping: dict[str, str] | None = None,
    limit: int = 5,
    *,
    kind: str = "people",
    file_format: str = "csv",
) -> dict[str, Any]:
    """Headers, the mapping (suggested when none is given) and the first rows, checked.

    Each preview row carries the values by column, what they map to, and the errors
    the import would report for it, so a user can fix the mapping before running.
    """
    if kind not in KINDS:
        raise ValidationFailed.single("kind", "Must be people or organizations.")
    if file_format not in FORMATS:
        raise ValidationFailed.single("format", "Must be csv or vcard.")
    text, warning = decode_content(content)
    party_kind = KINDS[kind]
    validator = _Validator(party_kind, mapping, vcard_file=file_format == "vcard")
    rows: list[dict[str, Any]] = []
    if file_format == "vcard":
        text, _left_out = importable_text(text, file_format)
        total = vcard.count_cards(text)
        headers: list[str] = []
        for card in vcard.parse_vcards(text, kind=kind):
            if len(rows) >= limit:
                break
            values: dict[str, str] = {}
            for target, value, _source in card.cells:
                values[target] = f"{values[target]}; {value}" if target in values else value
                if target not in headers:
                    headers.append(target)
            raw = _RawRow(card.number, card.cells)
            errors = [{"field": "vCard", "message": card.error}] if card.error else []
            if not card.error:
                errors = validator.validate(raw)[1]
            rows.append({"row": card.number, "values": values, "mapped": values, "errors": errors})
        used = {h: h for h in headers}
        suggested = False
    else:
        headers = read_csv_header(text)
        suggested = mapping is None
        if suggested:
            used = suggest_mapping(headers, kind)
        else:
            used, errors = _clean_mapping(
                {str(k): str(v or "") for k, v in mapping.items()},
                headers,
                party_kind,
                validator.definitions,
            )
            if errors:
                raise ValidationFailed("The column mapping is not valid.", errors=errors)
        total = _count_csv_rows(text)
        for number, cells in _csv_rows(text):
            if len(rows) >= limit:
                break
            values = {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(headers)}
            mapped: dict[str, str] = {}
            raw_cells = []
            for header, target in used.items():
                value = values.get(header, "").strip()
                if value:
                    mapped[target] = f"{mapped[target]}; {value}" if target in mapped else value
                    raw_cells.append((target, value, header))
            errors = validator.validate(_RawRow(number, raw_cells))[1] if used else []
            rows.append({"row": number, "values": values, "mapped": mapped, "errors": errors})
    return {
        "headers": headers,
        "mapping": used,
        "suggested": suggested,
        "rows": rows,
        "total_rows": total,
        "targets": allowed_targets(kind),
        "warning": warning,
    }


def errors_csv(job: ImportJob) -> str:
    """The rejected rows as CSV: row number, field, reason and the offending value."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "field", "reason", "value"])
    for error in job.errors:
        writer.writerow(
            [
                error.get("row", ""),
                csv_safe(str(error.get("field", ""))),
                csv_safe(str(error.get("message", ""))),
                csv_safe(str(error.get("value", ""))),
            ]
        )
    return out.getvalue()
