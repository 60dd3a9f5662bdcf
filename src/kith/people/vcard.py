"""vCard 3.0 and 4.0: parsing into import rows and exporting parties.

Parsing turns each card into the same row shape the CSV importer builds from a mapped
CSV line, a list of ``(target, value, source)`` cells, so both formats share one
validation and matching pipeline (``kith.people.importing``). ``source`` names the
vCard property a value came from, which is what the error report shows.

Export writes version 4.0 by default and 3.0 on request. The card's ``UID`` is the
party's public id, so importing an exported file finds the same records again even
for people without an e-mail address or phone number.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import vobject

from kith.people.models import ContactPoint, Party
from kith.people.normalize import CHANNEL_RE
from kith.people.queries import current_roles

Cell = tuple[str, str, str]  # (target, value, source)

VERSIONS = ("3.0", "4.0")
_BEGIN = re.compile(r"^BEGIN:VCARD\s*$", re.IGNORECASE)
_END = re.compile(r"^END:VCARD\s*$", re.IGNORECASE)

# Profile hosts that tell which network an X-SOCIALPROFILE or URL without a TYPE is on.
_SOCIAL_HOSTS = {
    "twitter.com": "twitter",
    "x.com": "x",
    "github.com": "github",
    "linkedin.com": "linkedin",
    "instagram.com": "instagram",
    "facebook.com": "facebook",
    "tiktok.com": "tiktok",
    "youtube.com": "youtube",
    "reddit.com": "reddit",
    "t.me": "telegram",
    "bsky.app": "bluesky",
}
# Vendor properties some address books write instead of X-SOCIALPROFILE.
_VENDOR_HANDLES = {
    "x-twitter": "twitter",
    "x-github": "github",
    "x-linkedin": "linkedin",
    "x-instagram": "instagram",
    "x-facebook": "facebook",
    "x-skype": "skype",
    "x-skype-username": "skype",
    "x-telegram": "telegram",
    "x-mastodon": "mastodon",
}
# IMPP schemes that are telephony or generic rather than a handle on a network.
_IMPP_IGNORED = {"tel", "sip", "sips", "mailto", "http", "https"}


@dataclass
class ParsedCard:
    """One card: its 1-based position in the file and its cells, or why it was unreadable."""

    number: int
    cells: list[Cell] = field(default_factory=list)
    error: str = ""
    is_organization: bool = False


class VCardError(ValueError):
    """The text holds no vCard at all."""


# ---------------------------------------------------------------- parsing


# Pictures and other binary payloads: Kith keeps no pictures of people, and decoding a
# multi-megabyte PHOTO cost hundreds of megabytes, so these never reach the parser.
BINARY_PROPERTIES = frozenset({"photo", "logo", "sound", "key"})
# A card larger than this once its pictures are gone is rejected alone, unparsed.
MAX_CARD_CHARS = 1_000_000
_PROPERTY_NAME = re.compile(r"^(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)[;:]")


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time, without the end-of-line characters.

    ``str.splitlines()`` (and ``io.StringIO``) would copy the whole file first; this
    slices one line at a time. Lines end in LF or CRLF, or CR for files that use
    nothing else.
    """
    sep = "\n" if "\n" in text else "\r"
    pos, size = 0, len(text)
    while pos < size:
        end = text.find(sep, pos)
        if end < 0:
            end = size
        yield text[pos:end].rstrip("\r")
        pos = end + 1


def _without_pictures(lines: Iterable[str], dropped: list[int] | None = None) -> Iterator[str]:
    """``lines`` less every binary property (``PHOTO``, ``LOGO``, ``SOUND``, ``KEY``)
    together with its folded continuation lines; ``dropped[0]`` counts those left out."""
    dropping = False
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not dropping:
                yield line
            continue
        match = _PROPERTY_NAME.match(line)
        dropping = bool(match and match.group(1).casefold() in BINARY_PROPERTIES)
        if not dropping:
            yield line
        elif dropped is not None:
            dropped[0] += 1


def strip_pictures(text: str) -> tuple[str, int]:
    """The vCard text without its pictures, and how many properties were dropped."""
    dropped = [0]
    kept = list(_without_pictures(_lines(text), dropped))
    return "\r\n".join(kept) + ("\r\n" if kept else ""), dropped[0]


def iter_cards(text: str) -> Iterator[str]:
    """The source of each BEGIN:VCARD … END:VCARD block, one at a time, pictures left out.

    Each card is parsed on its own so one broken card is reported as a rejected row
    instead of failing the whole file, and only one card is held at a time.
    """
    current: list[str] | None = None
    for line in _without_pictures(_lines(text)):
        if current is None:
            if _BEGIN.match(line):
                current = [line]
            continue
        current.append(line)
        if _END.match(line):
            yield "\r\n".join(current) + "\r\n"
            current = None
    if current is not None:  # a last card without END:VCARD is still reported, as broken
        yield "\r\n".join(current) + "\r\n"


def split_cards(text: str) -> list[str]:
    """Every card's source (see ``iter_cards``), as a list."""
    return list(iter_cards(text))


def count_cards(text: str) -> int:
    return sum(1 for line in _lines(text) if _BEGIN.match(line))


def parse_vcards(text: str, *, kind: str = "people") -> Iterator[ParsedCard]:
    """Yield one ``ParsedCard`` per card; ``kind`` is ``people`` or ``organizations``."""
    for number, source in enumerate(iter_cards(text), start=1):
        if not _END.match(source.rstrip("\r\n").rsplit("\r\n", 1)[-1]):
            yield ParsedCard(number, error="The card has no END:VCARD line.")
            continue
        if len(source) > MAX_CARD_CHARS:
            yield ParsedCard(
                number,
                error=f"The card is larger than {MAX_CARD_CHARS // 1_000_000} MB "
                "without its pictures; split its notes or remove what it does not need.",
            )
            continue
        try:
            card = vobject.readOne(source)
        except Exception as exc:  # vobject raises several unrelated types on bad input
            # vobject's "At line N" counts from somewhere the user cannot see; drop it.
            reason = re.sub(r"^At line \d+:\s*", "", str(exc)).strip()
            yield ParsedCard(number, error=f"Not a readable vCard: {reason}"[:300])
            continue
        yield _card_cells(number, card, kind=kind)


def _values(card, name: str) -> list:
    return list(card.contents.get(name, []))


def _text(value) -> str:
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value if str(v).strip())
    return " ".join(str(value or "").split())


def _param(line, name: str) -> list[str]:
    out: list[str] = []
    for raw in line.params.get(name.upper(), []):
        out.extend(p.strip().strip('"') for p in str(raw).split(",") if p.strip())
    return out


def _label(line) -> str:
    types = [t.casefold() for t in _param(line, "TYPE")]
    for wanted in ("work", "home", "cell", "mobile", "fax", "other"):
        if wanted in types:
            return wanted
    return ""


def _source(name: str, line) -> str:
    """The property as the error report names it; the label in it becomes the point's label."""
    label = _label(line)
    return f"{name} ({label})" if label else name


def _date(value: str) -> str:
    """A vCard date (``19850412``, ``1985-04-12``, ``1985-04-12T00:00:00Z``) as ISO.

    Dates without a year (``--0412``) cannot be stored as a birthday and are skipped
    by the caller; anything else unreadable is passed on as written, so the row is
    rejected with the usual date message instead of silently losing it.
    """
    text = value.strip().split("T", 1)[0]
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def _address(value) -> str:
    if isinstance(value, vobject.vcard.Address):
        parts = [
            value.box,
            value.extended,
            value.street,
            value.city,
            " ".join(p for p in (_text(value.region), _text(value.code)) if p),
            value.country,
        ]
        return ", ".join(_text(p) for p in parts if _text(p))
    return _text(value)


def _social_channel(url_or_handle: str, declared: list[str]) -> str | None:
    for name in declared:
        channel = name.casefold().removeprefix("x-")
        if CHANNEL_RE.match(channel) and channel not in ("pref", "internet", "work", "home"):
            return channel
    if "://" in url_or_handle:
        host = (urlsplit(url_or_handle).hostname or "").casefold().removeprefix("www.")
        return _SOCIAL_HOSTS.get(host)
    return None


def _card_cells(number: int, card, *, kind: str) -> ParsedCard:
    parsed = ParsedCard(number)
    cells = parsed.cells
    card_kind = _text(card.contents["kind"][0].value).casefold() if "kind" in card.contents else ""
    show_as = (
        _text(card.contents["x-abshowas"][0].value).casefold()
        if "x-abshowas" in card.contents
        else ""
    )
    if card_kind == "group":
        parsed.error = "A group card (KIND:group) is not a person or an organisation."
        return parsed
    # ORG is a list of organisation name then units; only the name matters here.
    org_first = [
        _text(line.value[0] if isinstance(line.value, list) and line.value else line.value)
        for line in _values(card, "org")
    ]
    org_first = [name for name in org_first if name]
    fn = next((_text(line.value) for line in _values(card, "fn") if _text(line.value)), "")
    has_person_name = any(
        isinstance(line.value, vobject.vcard.Name)
        and (_text(line.value.given) or _text(line.value.family))
        for line in _values(card, "n")
    )
    # vCard 4.0 says KIND:org; 3.0 address books mark companies with X-ABShowAs or
    # write a card whose only name is the organisation's.
    parsed.is_organization = (
        card_kind in ("org", "organization")
        or show_as == "company"
        or (
            card_kind == "" and bool(org_first) and not has_person_name and fn in ("", org_first[0])
        )
    )

    if kind == "organizations":
        if not parsed.is_organization:
            parsed.error = "This card describes a person; import it as people instead."
            return parsed
        name = fn or (org_first[0] if org_first else "")
        if name:
            cells.append(("display_name", name, "FN" if name == fn else "ORG"))
    else:
        if parsed.is_organization:
            parsed.error = (
                "This card describes an organisation; import it as organisations instead."
            )
            return parsed
        if fn:
            cells.append(("display_name", fn, "FN"))
        for line in _values(card, "n")[:1]:
            name = line.value
            if isinstance(name, vobject.vcard.Name):
                if _text(name.given):
                    cells.append(("given_name", _text(name.given), "N"))
                if _text(name.family):
                    cells.append(("family_name", _text(name.family), "N"))
        for line in _values(card, "title")[:1]:
            if _text(line.value):
                cells.append(("title", _text(line.value), "TITLE"))
        if org_first:
            cells.append(("organization", org_first[0], "ORG"))
        for line in _values(card, "bday")[:1]:
            value = _text(line.value)
            if value and not value.startswith("--"):
                cells.append(("birthday", _date(value), "BDAY"))

    for line in _values(card, "email"):
        if _text(line.value):
            cells.append(("email", _text(line.value), _source("EMAIL", line)))
    for line in _values(card, "tel"):
        value = _text(line.value)
        # vCard 4.0 writes phones as tel: URIs, possibly with ;ext=…
        if value.casefold().startswith("tel:"):
            value = value[4:].split(";", 1)[0]
        if value:
            cells.append(("phone", value, _source("TEL", line)))
    for line in _values(card, "adr"):
        value = _address(line.value)
        if value:
            cells.append(("postal", value, _source("ADR", line)))
    for line in _values(card, "url"):
        if _text(line.value):
            cells.append(("website", _text(line.value), "URL"))
    for line in _values(card, "x-socialprofile"):
        value = _text(line.value)
        channel = _social_channel(value, _param(line, "TYPE"))
        if value and channel:
            cells.append((f"handle:{channel}", value, "X-SOCIALPROFILE"))
        elif value:
            cells.append(("website", value, "X-SOCIALPROFILE"))
    for name, channel in _VENDOR_HANDLES.items():
        for line in _values(card, name):
            if _text(line.value):
                cells.append((f"handle:{channel}", _text(line.value), name.upper()))
    for line in _values(card, "impp"):
        value = _text(line.value)
        scheme, sep, handle = value.partition(":")
        scheme = scheme.casefold()
        if sep and handle and scheme not in _IMPP_IGNORED and CHANNEL_RE.match(scheme):
            cells.append((f"handle:{scheme}", handle, "IMPP"))
    for line in _values(card, "categories"):
        names = line.value if isinstance(line.value, list) else str(line.value).split(",")
        names = [_text(n) for n in names if _text(n)]
        if names:
            cells.append(("tags", ", ".join(n.replace(",", " ") for n in names), "CATEGORIES"))
    notes = [str(line.value).strip() for line in _values(card, "note") if str(line.value).strip()]
    if notes:
        cells.append(("notes", "\n\n".join(notes), "NOTE"))
    for line in _values(card, "lang")[:1]:
        if _text(line.value):
            cells.append(("locale", _text(line.value), "LANG"))
    for line in _values(card, "tz")[:1]:
        value = _text(line.value)
        # Only zone names (Europe/Berlin) fit Party.timezone; UTC offsets (vCard 3.0) do not.
        if "/" in value:
            cells.append(("timezone", value, "TZ"))
    for line in _values(card, "uid")[:1]:
        value = _text(line.value)
        if value.casefold().startswith("urn:uuid:"):
            value = value[len("urn:uuid:") :]
        if value:
            cells.append(("external_id", value, "UID"))
    return parsed


# ---------------------------------------------------------------- export


def _escape_type(label: str) -> str:
    return label if re.fullmatch(r"[A-Za-z0-9-]{1,20}", label or "") else ""


def party_to_vcard(party: Party, *, version: str = "4.0") -> str:
    """Serialise one party (with prefetched contact points, tags and roles) as a vCard."""
    if version not in VERSIONS:
        raise ValueError(f"vCard version must be one of {', '.join(VERSIONS)}")
    v4 = version == "4.0"
    card = vobject.vCard()
    card.add("version").value = version
    card.add("uid").value = f"urn:uuid:{party.public_id}"
    card.add("fn").value = party.display_name
    is_person = party.kind == Party.Kind.PERSON
    if is_person:
        card.add("n").value = vobject.vcard.Name(
            family=party.family_name or "", given=party.given_name or ""
        )
        if party.title:
            card.add("title").value = party.title
        employers = [
            rel.object.display_name
            for rel in current_roles(party)
            if rel.object_id and rel.role.slug in ("employee", "contractor", "board-member")
        ]
        if employers:
            card.add("org").value = [employers[0]]
        if party.birthday:
            card.add("bday").value = (
                party.birthday.strftime("%Y%m%d") if v4 else party.birthday.isoformat()
            )
    else:
        card.add("org").value = [party.display_name]
        if v4:
            card.add("kind").value = "org"
        else:
            card.add("n").value = vobject.vcard.Name()
            card.add("x-abshowas").value = "COMPANY"
    for cp in party.contact_points.all():
        label = _escape_type(cp.label)
        if cp.channel == ContactPoint.EMAIL:
            line = card.add("email")
            line.value = cp.value
            types = ([] if v4 else ["INTERNET"]) + ([label] if label else [])
        elif cp.channel == ContactPoint.PHONE:
            line = card.add("tel")
            if v4:
                line.value = "tel:" + cp.normalized
                line.params["VALUE"] = ["uri"]
            else:
                line.value = cp.value
            types = [label or "voice"]
        elif cp.channel == ContactPoint.WEBSITE:
            line = card.add("url")
            line.value = cp.value if "://" in cp.value else f"https://{cp.value}"
            types = []
        elif cp.channel == ContactPoint.POSTAL:
            line = card.add("adr")
            line.value = vobject.vcard.Address(street=cp.value)
            types = [label] if label else []
        elif cp.channel == "external":
            continue  # import bookkeeping, not something an address book can use
        else:
            line = card.add("x-socialprofile")
            line.value = cp.value
            types = [cp.channel]
        if types:
            line.params["TYPE"] = types
        if cp.primary and v4:
            line.params["PREF"] = ["1"]
    tags = sorted(t.name for t in party.tags.all())
    if tags:
        card.add("categories").value = tags
    if party.notes:
        card.add("note").value = party.notes
    if v4 and party.locale:
        card.add("lang").value = party.locale
    if v4 and party.timezone:
        card.add("tz").value = party.timezone
    card.add("rev").value = (party.updated_at or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return card.serialize()


def iter_vcards(parties: Iterable[Party], *, version: str = "4.0") -> Iterator[str]:
    for party in parties:
        yield party_to_vcard(party, version=version)


def parties_to_vcard(parties: Iterable[Party], *, version: str = "4.0") -> str:
    """Every party as one vCard file (version 4.0 unless ``version="3.0"``)."""
    return "".join(iter_vcards(parties, version=version))


def uid_to_uuid(value: str) -> uuid.UUID | None:
    """The UUID in a vCard UID or an exported id column, if it is one."""
    text = value.strip()
    if text.casefold().startswith("urn:uuid:"):
        text = text[len("urn:uuid:") :]
    try:
        return uuid.UUID(text)
    except ValueError:
        return None
