"""What identity resolution compares: one flat, cleaned row per person.

A :class:`PersonRecord` is the engine-neutral description of a person (names, date of
birth, postal addresses, e-mails, phones, social handles, organisations, an optional
identifier such as a customer number, and free text where handles may be *mentioned*:
an e-mail signature, a profile link). :func:`to_row` turns it into the flat row the
linkage model reads: cleaned names with a nickname-folded given name, the address split
into street number, street, locality and postcode, and lists for the multi-valued
channels. :func:`records_from_parties` builds records from Kith's people table in a
fixed number of queries, so training and prediction read the database the same way.

Nothing here imports the linkage engine; the web process may use it freely.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kith.people.identity.nicknames import canonical

# Channels whose normalised value is a handle (everything but these four).
_NOT_HANDLES = {"email", "phone", "postal", "website"}
# Legal-form words that say nothing about which organisation it is.
_ORG_NOISE = {
    "inc",
    "ltd",
    "llc",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "bv",
    "co",
    "corp",
    "corporation",
    "company",
    "limited",
    "the",
    "group",
}
_HANDLE_RE = re.compile(r"(?<![\w.])@([a-z0-9_][a-z0-9_.]{1,60})(?:@[a-z0-9.-]+\.[a-z]{2,})?")
_URL_RE = re.compile(r"(?:https?://)?(?:www\.)?[a-z0-9.-]+\.[a-z]{2,}/@?([a-z0-9_.-]{2,60})/?")
_POSTCODE_RE = re.compile(r"\b(\d{4,5}|[a-z]{1,2}\d[a-z\d]? ?\d[a-z]{2})\b")
_NUMBER_RE = re.compile(r"^\s*(\d+[a-z]?)\b")
# Social sites whose profile links name a handle in their first path segment.
_PROFILE_PATH_SKIP = {"in", "pub", "user", "users", "u", "profile", "people"}

FIELDS = (
    "given_name",
    "family_name",
    "birthday",
    "postal",
    "email",
    "phone",
    "handle",
    "organisation",
    "id_number",
)


# Row fields that hold lists; two lists agree when they share a value.
LIST_FIELDS = frozenset(
    {"emails", "email_users", "phones", "handles", "seen_handles", "organisations"}
)

# Which pairs the linkage model compares at all (its blocking rules): two people who
# agree on every part of at least one rule. A part pairs a field of the first person
# with a field of the second: the same field, or given and family name swapped. Each
# rule is an equi-join, so the pairs grow with the duplicates, not with the square of
# the table; together they keep a pair that agrees on any strong field (a contact
# point, the customer number, a name with a date of birth or a postcode). The model
# builds Splink's rules from this (``model.blocking_rules``) and :func:`compared` is the
# same test in Python, so a new person is scored against exactly the people a full
# run would compare them with.
BLOCKING_RULES: tuple[tuple[tuple[str, str], ...], ...] = tuple(
    tuple((part, part) for part in rule) if isinstance(rule[0], str) else rule
    for rule in (
        ("emails",),
        ("phones",),
        ("handles",),
        ("id_number",),
        ("family_name", "given_canon"),
        ("family_name", "birthday"),
        ("given_name", "birthday"),
        ("given_name", "postcode"),
        ("family_name", "postcode"),
        ("birthday", "postcode"),
        ("family_name", "street"),
        ("given_name", "street"),
        ("street_number", "postcode"),
        ("birthday", "street_number"),
        ("family_name", "street_number"),
        ("street", "postcode"),
        ("birthday", "street"),
        (("given_name", "family_name"), ("postcode", "postcode")),
        # Names swapped between the fields.
        (("given_name", "family_name"), ("family_name", "given_name")),
        ("email_users",),
    )
)


def _agree(a: dict[str, Any], b: dict[str, Any], rule: tuple[tuple[str, str], ...]) -> bool:
    for left, right in rule:
        x, y = a.get(left), b.get(right)
        if not x or not y:  # unknown never agrees (NULL = NULL is not true in SQL)
            return False
        if left in LIST_FIELDS:
            if not set(x).intersection(y):
                return False
        elif x != y:
            return False
    return True


# Rules that join each field with itself hold both ways round exactly when every field
# of the rule agrees, so compared() tests them as subsets of the pair's agreeing fields
# (one look at each field per pair, not one per rule and direction).
_SAME_FIELD_RULES = tuple(
    frozenset(left for left, _ in rule)
    for rule in BLOCKING_RULES
    if all(left == right for left, right in rule)
)
_OTHER_RULES = tuple(
    rule for rule in BLOCKING_RULES if not all(left == right for left, right in rule)
)
_RULE_FIELDS = tuple(sorted(frozenset().union(*_SAME_FIELD_RULES)))


def compared(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether the model compares rows ``a`` and ``b`` (:func:`to_row`): see BLOCKING_RULES.

    Both ways round: Splink joins a rule with its left side on the lower id, and which
    of two people has the lower id says nothing about whether they are one person.
    """
    agreeing = set()
    for name in _RULE_FIELDS:
        x, y = a.get(name), b.get(name)
        if x and y and (not set(x).isdisjoint(y) if name in LIST_FIELDS else x == y):
            agreeing.add(name)
    if agreeing and any(rule <= agreeing for rule in _SAME_FIELD_RULES):
        return True
    return any(_agree(a, b, rule) or _agree(b, a, rule) for rule in _OTHER_RULES)


@dataclass
class PersonRecord:
    """One person as identity resolution sees them (any field may be missing)."""

    id: str
    given_name: str = ""
    family_name: str = ""
    display_name: str = ""
    birthday: dt.date | str | None = None
    postal: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)
    websites: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    id_number: str = ""
    # Free text where a handle may be *mentioned* (signatures, notes, profile bios).
    evidence_text: str = ""


def fold(text: str | None) -> str:
    """Lower-case, accents off, only letters, digits and single spaces."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9 ]+", " ", text.casefold())
    return " ".join(text.split())


def clean_name(text: str | None) -> str:
    """A name part for comparison: folded, without spaces or hyphens ("Mc Donald" = "mcdonald")."""
    return fold(text).replace(" ", "")


def split_display_name(display_name: str) -> tuple[str, str]:
    """("Ana María Lima") → ("ana", "lima"): the first and last words of a name."""
    words = fold(display_name).split()
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], ""
    return words[0], words[-1]


def parse_postal(text: str) -> dict[str, str]:
    """Split a free-text postal address into street number, street, locality and postcode.

    Addresses are typed many ways; this reads the common "12 Main Street, Town 1234"
    shapes and leaves a part empty when unsure (the model treats empty as unknown).
    """
    folded_parts = [fold(p) for p in str(text).split(",")]
    parts = [p for p in folded_parts if p]
    out = {"street_number": "", "street": "", "locality": "", "postcode": ""}
    if not parts:
        return out
    first = parts[0]
    number = _NUMBER_RE.match(first)
    if number:
        out["street_number"] = number.group(1)
        first = first[number.end() :].strip()
    out["street"] = first
    rest = parts[1:]
    for index in range(len(rest) - 1, -1, -1):
        found = _POSTCODE_RE.search(rest[index])
        if found:
            out["postcode"] = found.group(1).replace(" ", "")
            before = rest[index][: found.start()].strip()
            out["locality"] = before or (rest[index - 1] if index > 0 else "")
            break
    else:
        if rest:
            out["locality"] = rest[-1]
    return out


def clean_org(name: str) -> str:
    words = [w for w in fold(name).split() if w not in _ORG_NOISE]
    return " ".join(words)


def handles_mentioned(text: str, websites: Iterable[str] = ()) -> list[str]:
    """Handles named in free text ("@ana_l", "mastodon.social/@ana_l") or profile links."""
    found: set[str] = set()
    lowered = (text or "").casefold()
    found.update(m.group(1).rstrip(".") for m in _HANDLE_RE.finditer(lowered))
    for m in _URL_RE.finditer(lowered):
        found.add(m.group(1).lstrip("@").rstrip("."))
    for site in websites:
        path = urlsplit(site if "://" in site else f"https://{site}").path.strip("/")
        segments = [s for s in path.split("/") if s and s.casefold() not in _PROFILE_PATH_SKIP]
        if segments:
            found.add(segments[0].lstrip("@").casefold())
    return sorted(h for h in found if len(h) >= 2)


def _date_text(value: dt.date | str | None) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        return None


def _nonempty(values: Iterable[str]) -> list[str] | None:
    """A sorted list without blanks, or None (the model reads None as "unknown")."""
    cleaned = sorted({v for v in values if v})
    return cleaned or None


def given_canon(given: str | None) -> str | None:
    """A cleaned given name (:func:`clean_name`) folded to its nickname group's form,
    as rows carry it in ``given_canon``; None when there is none."""
    return canonical(given) if given else None


def to_row(record: PersonRecord) -> dict[str, Any]:
    """The flat row the linkage model compares (see :mod:`kith.people.identity.model`)."""
    given, family = clean_name(record.given_name), clean_name(record.family_name)
    if not given and not family and record.display_name:
        given, family = split_display_name(record.display_name)
    address = parse_postal(record.postal[0]) if record.postal else {}
    handles = {h.casefold().lstrip("@") for h in record.handles if h}
    seen = set(handles_mentioned(record.evidence_text, record.websites)) - handles
    emails = {e.casefold() for e in record.emails if e}
    return {
        "unique_id": str(record.id),
        "given_name": given or None,
        "given_canon": given_canon(given),
        "family_name": family or None,
        "birthday": _date_text(record.birthday),
        "street_number": address.get("street_number") or None,
        "street": address.get("street") or None,
        "locality": address.get("locality") or None,
        "postcode": address.get("postcode") or None,
        "emails": _nonempty(emails),
        # The part before the @: the same person often keeps it across providers.
        "email_users": _nonempty(re.sub(r"[^a-z0-9]", "", e.split("@")[0]) for e in emails),
        "phones": _nonempty(record.phones),
        "handles": _nonempty(handles),
        "seen_handles": _nonempty(seen),
        "organisations": _nonempty(clean_org(o) for o in record.organisations),
        "id_number": fold(record.id_number).replace(" ", "") or None,
    }


def records_from_parties(parties: Iterable[Any]) -> list[PersonRecord]:
    """Records for these Party rows (people), with contact points and current employers.

    Four queries whatever the number of people: the parties, their contact points, their
    current employers, and the identifier attribute lives on the party row itself.
    """
    from django.conf import settings

    from kith.core.bulk import id_set
    from kith.people.models import ContactPoint, Relationship

    people = list(parties)
    ids = id_set(p.pk for p in people)
    points: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for party_id, channel, value, normalized in ContactPoint.objects.filter(
        party_id__in=ids
    ).values_list("party_id", "channel", "value", "normalized"):
        points[party_id].append((channel, value, normalized))
    employers: dict[int, list[str]] = defaultdict(list)
    for subject_id, org_name in (
        Relationship.objects.current()
        .filter(subject_id__in=ids, object__isnull=False, object__kind="organization")
        .values_list("subject_id", "object__display_name")
    ):
        employers[subject_id].append(org_name)
    id_key = settings.KITH_IDENTITY_ID_ATTRIBUTE
    evidence_keys = settings.KITH_IDENTITY_EVIDENCE_ATTRIBUTES
    out = []
    for p in people:
        mine = points.get(p.pk, [])
        attributes = p.attributes or {}
        evidence = [p.notes or ""] + [str(attributes.get(k, "")) for k in evidence_keys]
        out.append(
            PersonRecord(
                id=str(p.pk),
                given_name=p.given_name,
                family_name=p.family_name,
                display_name=p.display_name,
                birthday=p.birthday,
                postal=[v for c, v, _ in mine if c == ContactPoint.POSTAL],
                emails=[n for c, _, n in mine if c == ContactPoint.EMAIL],
                phones=[n for c, _, n in mine if c == ContactPoint.PHONE],
                handles=[n for c, _, n in mine if c not in _NOT_HANDLES],
                websites=[n for c, _, n in mine if c == ContactPoint.WEBSITE],
                organisations=employers.get(p.pk, []),
                id_number=str(attributes.get(id_key, "") or "") if id_key else "",
                evidence_text="\n".join(e for e in evidence if e),
            )
        )
    return out
