"""What identity resolution compares: one flat, cleaned row per person.

A :class:`PersonRecord` is the engine-neutral description of a person (names, date of
birth, postal addresses, e-mails, phones, social handles, organisations, an optional
identifier such as a customer number, and free text where handles may be *mentioned*:
an e-mail signature, a profile link). :func:`to_row` turns it into the flat row the
linkage model reads: cleaned names with a nickname-folded given name, the address split
into street number, street, locality and postcode, and lists for the multi-valued
channels. :func:`records_from_parties` builds records from Kith's people table in a
fixed number of queries, so training and prediction read the database the same way.
:func:`blocking_keys` states the model's blocking rules as keys, and
:func:`stored_keys` / :func:`probe_keys` hash them for the ``IdentityKey`` table
through which a new person's candidates are found.

Nothing here imports the linkage engine; the web process may use it freely.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
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


# Every part of a rule pairs two list fields or two single values; the keys below rely
# on it (a list field meets another when they share a value, a single value when equal).
assert all(
    (left in LIST_FIELDS) == (right in LIST_FIELDS)
    for rule in BLOCKING_RULES
    for left, right in rule
)

# A row's blocking keys: those of the rules that join each field with itself (the same
# on both sides), then the other rules' left and right keys.
BlockingKeys = tuple[frozenset, frozenset, frozenset]

_SAME_FIELD_RULES = tuple(
    (number, tuple(left for left, _ in rule))
    for number, rule in enumerate(BLOCKING_RULES)
    if all(left == right for left, right in rule)
)
_CROSS_RULES = tuple(
    (number, tuple(left for left, _ in rule), tuple(right for _, right in rule))
    for number, rule in enumerate(BLOCKING_RULES)
    if not all(left == right for left, right in rule)
)


def _rule_keys(number: int, fields: tuple[str, ...]) -> Callable[[dict[str, Any]], Iterable]:
    """A function giving a row's keys for one side of rule ``number`` (``fields``).

    Built once for each rule at import: the common shapes (one list field, one or two
    single values) get a function with no loop, as every candidate of a scoring batch
    goes through all of them.
    """
    lists = [name in LIST_FIELDS for name in fields]
    if len(fields) == 1 and lists[0]:
        (name,) = fields

        def one_list(row: dict[str, Any]) -> Iterable:
            values = row.get(name)
            return [(number, v) for v in values] if values else ()

        return one_list
    if len(fields) == 1:
        (name,) = fields

        def one_value(row: dict[str, Any]) -> Iterable:
            value = row.get(name)
            return ((number, value),) if value else ()

        return one_value
    if len(fields) == 2 and not any(lists):
        first, second = fields

        def two_values(row: dict[str, Any]) -> Iterable:
            x = row.get(first)
            if x:
                y = row.get(second)
                if y:
                    return ((number, x, y),)
            return ()

        return two_values

    def general(row: dict[str, Any]) -> Iterable:
        keys: list[tuple] = [(number,)]
        for name, is_list in zip(fields, lists, strict=True):
            value = row.get(name)
            if not value:  # unknown never agrees (NULL = NULL is not true in SQL)
                return ()
            keys = [(*key, v) for key in keys for v in (value if is_list else (value,))]
        return keys

    return general


_SAME_KEYS = tuple(_rule_keys(number, fields) for number, fields in _SAME_FIELD_RULES)
_LEFT_KEYS = tuple(_rule_keys(number, lefts) for number, lefts, _ in _CROSS_RULES)
_RIGHT_KEYS = tuple(_rule_keys(number, rights) for number, _, rights in _CROSS_RULES)


def blocking_keys(row: dict[str, Any]) -> BlockingKeys:
    """The row's keys for BLOCKING_RULES: :func:`keys_meet` says from two rows' keys
    whether the model compares them.

    A rule's key is the rule's number with one value for each of its parts, taken from
    the parts' left fields (or their right fields); a list field gives a key for each of
    its values, and a part without a value (unknown never agrees) gives the rule no key.
    Two rows agree on a rule exactly when the first's left keys and the second's right
    keys share one. Built once a row, the pair test is then a few set intersections,
    not a walk over the rules for every pair a batch looks at.
    """
    same: list[tuple] = []
    for keys in _SAME_KEYS:
        same.extend(keys(row))
    left: list[tuple] = []
    for keys in _LEFT_KEYS:
        left.extend(keys(row))
    right: list[tuple] = []
    for keys in _RIGHT_KEYS:
        right.extend(keys(row))
    return frozenset(same), frozenset(left), frozenset(right)


def keys_meet(a: BlockingKeys, b: BlockingKeys) -> bool:
    """Whether two rows with these :func:`blocking_keys` are compared by the model.

    Both ways round: Splink joins a rule with its left side on the lower id, and which
    of two people has the lower id says nothing about whether they are one person.
    """
    return not a[0].isdisjoint(b[0]) or not a[1].isdisjoint(b[2]) or not b[1].isdisjoint(a[2])


def compared(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether the model compares rows ``a`` and ``b`` (:func:`to_row`): see BLOCKING_RULES."""
    return keys_meet(blocking_keys(a), blocking_keys(b))


# The handles rule's number: a handle one person mentions meets the other's handle key.
_HANDLES_RULE = BLOCKING_RULES.index((("handles", "handles"),))
# Names the key definition below (rules and tagging): stored keys built under another
# version are rebuilt before they are used (service.ensure_keys).
KEYS_VERSION = hashlib.sha256(repr((BLOCKING_RULES, "L/R/seen v1")).encode()).hexdigest()[:16]


def _hashed(keys: Iterable[tuple]) -> set[int]:
    """64-bit hashes of keys (stable across processes, unlike ``hash``), as stored."""
    return {
        int.from_bytes(
            hashlib.blake2b(repr(key).encode(), digest_size=8).digest(), "big", signed=True
        )
        for key in keys
    }


def stored_keys(row: dict[str, Any]) -> set[int]:
    """The keys stored for a person (``IdentityKey``), hashed: those that
    :func:`probe_keys` of another person meets exactly when the two are worth scoring:
    the model compares them (:func:`compared`), or one mentions the other's handle.

    Same-field keys are stored as they are; a one-sided rule's left and right keys are
    tagged with their side, so a probe asks for the opposite side; and each handle the
    person's free text mentions is stored tagged ``seen``.
    """
    same, left, right = blocking_keys(row)
    return _hashed(
        [
            *same,
            *(("L", key) for key in left),
            *(("R", key) for key in right),
            *(("seen", handle) for handle in row.get("seen_handles") or ()),
        ]
    )


def probe_keys(row: dict[str, Any]) -> set[int]:
    """The keys to look up for a person among everyone's :func:`stored_keys`."""
    same, left, right = blocking_keys(row)
    return _hashed(
        [
            *same,
            *(("R", key) for key in left),
            *(("L", key) for key in right),
            *(("seen", handle) for handle in row.get("handles") or ()),
            *((_HANDLES_RULE, handle) for handle in row.get("seen_handles") or ()),
        ]
    )


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


def records_from_parties(parties: Iterable[Any], *, employers: bool = True) -> list[PersonRecord]:
    """Records for these Party rows (people), with contact points and current employers
    (unless ``employers`` is false: blocking keys do not read them).

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
    employed: dict[int, list[str]] = defaultdict(list)
    for subject_id, org_name in (
        Relationship.objects.current()
        .filter(subject_id__in=ids, object__isnull=False, object__kind="organization")
        .values_list("subject_id", "object__display_name")
        if employers
        else ()
    ):
        employed[subject_id].append(org_name)
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
                organisations=employed.get(p.pk, []),
                id_number=str(attributes.get(id_key, "") or "") if id_key else "",
                evidence_text="\n".join(e for e in evidence if e),
            )
        )
    return out
