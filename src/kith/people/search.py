"""Search over people and organisations: one service, two index backends.

The document
    Every active party has a denormalised search document in ``Party.search_text``:
    lines of space-separated tokens, one line per section (see ``Section``). Tokens are
    built here in Python, so both backends index exactly the same tokens and neither
    tokenizer can disagree with the query side:

    * plain words (casefolded, accents stripped) of names, e-mail addresses, handles,
      websites and the names of the organisations the party currently holds a role
      towards ("company");
    * tagged tokens, which start with ``_`` so a user's prefix can never hit them:
      ``_m``/``_n``/``_r`` + the metaphone / NYSIIS / match-rating code of a name word,
      ``_d`` + a name word with one letter deleted (a deletion neighbourhood: two words
      one edit apart share a token), ``_p`` + every run of six digits of a phone and
      its last three to five digits (any run of digits is found from these, see
      ``_phone_node``), ``_f`` + the phone's full digits, ``_e``/``_h``/``_w`` + an
      e-mail, handle or web address with its punctuation removed.

    A party that is not active (merged, erased) has an empty document and is not in
    the index.

The indexes
    * SQLite: an FTS5 table ``people_party_fts`` (rowid = party id) holding the same
      tokens, created by migration 0003. ``unicode61`` with ``_`` as a token character
      keeps our tokens whole; ``detail=none`` keeps it small since we never ask for
      phrases; prefix indexes make short prefixes cheap.
    * PostgreSQL: a generated column ``search_vector`` =
      ``array_to_tsvector(<the tokens of search_text>)`` (no text-search parser or
      dictionary between us and the tokens) with a GIN index, queried with a tsquery
      we build (``'smi':* & ('jon' | '_mjn')``). The column is created by migration
      0003 and unknown to the Django model, so SQLite never sees it. A table of the
      name and company words in the index, ``people_search_word``, has a ``pg_trgm``
      GIN index: the last tier looks a query word's trigram neighbours up there (a few
      thousand rows) rather than comparing trigrams of every party's name.

Searching
    The query is parsed into terms (words, digit runs, compound words such as e-mails).
    Candidates come from the index in tiers, each one bounded, stopping as soon as there
    are enough: every term exactly; every term by prefix, phonetic code or one edit; on
    PostgreSQL, when nothing matched yet, also by a word of the index that is similar
    by trigrams ("did you mean"). The candidates are intersected with the
    caller's queryset in the same SQL statement (so permission and list filters apply
    before the bound), then re-ranked in Python with ``rapidfuzz`` from the documents
    alone; a party where some query word matches nothing is dropped (every word must
    match, however loosely). Only the best ``limit`` parties are loaded.

All SQL built here is parameterised: user input only ever travels as a bound
parameter, and the FTS5 / tsquery expressions are assembled from tokens that can only
contain letters, digits and ``_``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

import jellyfish
from django.db import OperationalError, connection, transaction
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from rapidfuzz import fuzz

from kith.people.models import ContactPoint, Party, Relationship

logger = logging.getLogger(__name__)

FTS_TABLE = "people_party_fts"
WORDS_TABLE = "people_search_word"  # PostgreSQL only

MAX_QUERY_LENGTH = 200
MAX_TERMS = 8
MAX_TOKEN_LENGTH = 100
PHONE_GRAM = 6
# Parties reindexed per round of queries when many are reindexed at once.
CHUNK = 500
# Candidates fetched per tier: enough to re-rank well, few enough to stay in milliseconds.
MIN_CANDIDATES = 200
MAX_CANDIDATES = 1000
# A query of only short words (what people type first: "An", "Lim") is a prefix of
# thousands of names, and any of them fits: ranking 200 of them cost five times more
# than the search itself and told the user nothing more. Such queries re-rank fewer.
SHORT_WORD = 3
SHORT_QUERY_CANDIDATES_PER_RESULT = 2


class Section(IntEnum):
    """Line numbers of the search document."""

    NAME = 0  # plain words of the party's names
    FUZZY = 1  # phonetic codes and one-deletion variants of the name words
    EMAIL = 2
    PHONE = 3
    HANDLE = 4
    COMPANY = 5
    WEB = 6


SECTIONS = len(Section)
# Channels that are not social handles.
_NOT_HANDLES = {ContactPoint.EMAIL, ContactPoint.PHONE, ContactPoint.POSTAL, ContactPoint.WEBSITE}
# Handles that are phone numbers too.
_PHONE_HANDLES = {"whatsapp"}

_WORD_RE = re.compile(r"[^\W_]+")
# A piece of a phone number as people type it: "+44", "(020)", "7946-0958".
_PHONE_CHUNK_RE = re.compile(r"^\+?[0-9().\-/]*[0-9][0-9().\-/]*$")
_NON_DIGIT_RE = re.compile(r"[^0-9]")


# ---------------------------------------------------------------- normalisation


def words(text: str) -> list[str]:
    """Casefolded words of ``text`` without accents: letters and digits only.

    Anything else (punctuation, ``_``, symbols, spaces) separates words. Index and
    query both go through here, so they always agree.
    """
    if not text:
        return []
    text = text.casefold()
    if not text.isascii():
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    return _WORD_RE.findall(text)


@lru_cache(maxsize=50_000)
def phonetic_codes(word: str) -> tuple[str, ...]:
    """Tagged metaphone, NYSIIS and match-rating codes of a Latin-alphabet word."""
    if len(word) < 2 or not (word.isascii() and word.isalpha()):
        return ()
    codes = []
    for tag, encode in (
        ("_m", jellyfish.metaphone),
        ("_n", jellyfish.nysiis),
        ("_r", jellyfish.match_rating_codex),
    ):
        code = "".join(words(encode(word)))
        if code:
            codes.append(tag + code)
    return tuple(codes)


def deletions(word: str) -> list[str]:
    """``word`` with each one of its letters removed (words of 4 to 24 letters only).

    Indexed as ``_d`` tokens, they make edit distance one a handful of exact lookups:
    "smyth" and "smith" share "smth", "jhon" and "john" share "jon".
    """
    if not 4 <= len(word) <= 24:
        return []
    return list(dict.fromkeys(word[:i] + word[i + 1 :] for i in range(len(word))))


def _phone_tokens(number: str) -> list[str]:
    """Tokens of a phone number: each window of ``PHONE_GRAM`` digits, the last three to
    five digits, and the whole.

    Windows of a fixed size keep the vocabulary bounded (at most 10⁶ tokens) so a
    prefix query on them merges few terms, where indexing every suffix would make
    "+4420" a prefix of a hundred thousand distinct tokens.
    """
    digits = _NON_DIGIT_RE.sub("", number)
    if len(digits) < 3:
        return []
    grams = ["_p" + digits[i : i + PHONE_GRAM] for i in range(len(digits) - PHONE_GRAM + 1)]
    tails = ["_p" + digits[-n:] for n in range(PHONE_GRAM - 1, 2, -1) if n <= len(digits)]
    return [*grams, *tails, "_f" + digits]


# ---------------------------------------------------------------- documents


def build_document(
    *,
    names: Sequence[str],
    contacts: Iterable[tuple[str, str]] = (),
    companies: Iterable[str] = (),
) -> str:
    """The search document of a party from its names, ``(channel, normalized)`` contact
    points and current companies."""
    lines: list[list[str]] = [[] for _ in range(SECTIONS)]
    name_words = list(dict.fromkeys(w for name in names for w in words(name)))
    lines[Section.NAME] = name_words
    for word in name_words:
        lines[Section.FUZZY] += phonetic_codes(word)
        lines[Section.FUZZY] += ("_d" + d for d in deletions(word))
    for channel, normalized in contacts:
        parts = words(normalized)
        if not parts:
            continue
        if channel == ContactPoint.EMAIL:
            local, _, domain = normalized.rpartition("@")
            local_words = words(local)
            # Not the top-level domain: "com" in every document makes "c" match them all.
            plain = [*local_words, *words(domain)[:-1]]
            lines[Section.EMAIL] += [*plain, "_e" + "".join(parts), "_e" + "".join(local_words)]
        elif channel == ContactPoint.PHONE:
            lines[Section.PHONE] += _phone_tokens(normalized)
        elif channel == ContactPoint.WEBSITE:
            host, _, path = normalized.partition("/")
            host_words = words(host)
            lines[Section.WEB] += [*host_words[:-1], *words(path), "_w" + "".join(host_words)]
        elif channel not in _NOT_HANDLES:
            lines[Section.HANDLE] += [*parts, "_h" + "".join(parts)]
            if channel in _PHONE_HANDLES:
                lines[Section.PHONE] += _phone_tokens(normalized)
    for company in companies:
        lines[Section.COMPANY] += words(company)
    text = "\n".join(
        " ".join(dict.fromkeys(t[:MAX_TOKEN_LENGTH] for t in line if t)) for line in lines
    )
    # Trailing empty sections are dropped; leading ones must stay (lines are positional).
    return text.rstrip()


@dataclass
class _PartyRow:
    pk: int
    kind: str
    status: str
    names: tuple[str, ...]
    old_text: str
    merged_into_id: int | None


def _party_rows(ids: Sequence[int] | None = None, *, after: int = 0, batch: int = 0):
    fields = (
        "pk",
        "kind",
        "status",
        "display_name",
        "given_name",
        "family_name",
        "legal_name",
        "search_text",
        "merged_into_id",
    )
    qs = Party.objects.order_by("pk")
    qs = qs.filter(pk__in=ids) if ids is not None else qs.filter(pk__gt=after)[:batch]
    return [
        _PartyRow(pk, kind, status, (display, given, family, legal), text, merged)
        for pk, kind, status, display, given, family, legal, text, merged in qs.values_list(*fields)
    ]


def _contacts_of(**party_filter) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = ContactPoint.objects.filter(**party_filter).exclude(channel=ContactPoint.POSTAL)
    for party_id, channel, normalized in rows.order_by().values_list(
        "party_id", "channel", "normalized"
    ):
        out[party_id].append((channel, normalized))
    return out


def _companies_of(ignore: Iterable[int] = (), **subject_filter) -> dict[int, list[str]]:
    """Names of the active organisations each subject currently holds a role towards,
    except those in ``ignore`` (on their way out of the database)."""
    # Two plain queries: as one join, the planner may start from every organisation.
    links = list(
        Relationship.objects.current()
        .filter(object__isnull=False, **subject_filter)
        .order_by()
        .values_list("subject_id", "object_id")
    )
    wanted = {object_id for _, object_id in links} - set(ignore)
    names: dict[int, str] = {}
    wanted_ids = sorted(wanted)
    for start in range(0, len(wanted_ids), CHUNK):
        names.update(
            Party.objects.filter(
                pk__in=wanted_ids[start : start + CHUNK],
                kind=Party.Kind.ORGANIZATION,
                status=Party.Status.ACTIVE,
            ).values_list("pk", "display_name")
        )
    out: dict[int, list[str]] = defaultdict(list)
    for subject_id, object_id in links:
        if object_id in names:
            out[subject_id].append(names[object_id])
    return out


def _document(row: _PartyRow, contacts, companies) -> str:
    if row.status != Party.Status.ACTIVE:
        return ""
    return build_document(
        names=row.names, contacts=contacts.get(row.pk, ()), companies=companies.get(row.pk, ())
    )


def _name_line(text: str) -> str:
    return text.split("\n", 1)[0]


# ---------------------------------------------------------------- writing the index


def _is_sqlite() -> bool:
    return connection.vendor == "sqlite"


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _write_documents(docs: Sequence[tuple[int, str]]) -> None:
    """Store ``(party id, document)`` pairs in ``search_text`` (no ``updated_at`` bump)."""
    if not docs:
        return
    table = connection.ops.quote_name(Party._meta.db_table)
    with connection.cursor() as cursor:
        if _is_postgres() and len(docs) > 1:
            cursor.execute(
                f"UPDATE {table} AS p SET search_text = v.doc "  # noqa: S608 - table name only
                "FROM unnest(%s::bigint[], %s::text[]) AS v(id, doc) WHERE p.id = v.id",
                [[pk for pk, _ in docs], [doc for _, doc in docs]],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET search_text = %s WHERE id = %s",  # noqa: S608
                [(doc, pk) for pk, doc in docs],
            )


def _write_fts(ids: Sequence[int], docs: Sequence[tuple[int, str]]) -> None:
    """SQLite only: replace the FTS rows of ``ids`` by the non-empty ``docs``."""
    if not _is_sqlite():
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"DELETE FROM {FTS_TABLE} WHERE rowid = %s",  # noqa: S608
            [(pk,) for pk in ids],
        )
        cursor.executemany(
            f"INSERT INTO {FTS_TABLE}(rowid, tokens) VALUES (%s, %s)",  # noqa: S608
            [(pk, doc) for pk, doc in docs if doc],
        )


def _vocabulary(docs: Iterable[str]) -> set[str]:
    """Name and company words (three letters or more) of documents."""
    out: set[str] = set()
    for doc in docs:
        lines = doc.split("\n")
        for section in (Section.NAME, Section.COMPANY):
            if len(lines) > section:
                out.update(word for word in lines[section].split() if len(word) >= 3)
    return out


def _update_vocabulary(*, added: Iterable[str], dropped: Iterable[str]) -> None:
    """PostgreSQL: keep ``people_search_word`` equal to the words of the index.

    Words of ``added`` documents go in; words of ``dropped`` (former) documents go out
    unless a document still holds them, so an erased name does not linger there.
    """
    if not _is_postgres():
        return
    new, old = _vocabulary(added), _vocabulary(dropped)
    gone = sorted(old - new)
    table = connection.ops.quote_name(Party._meta.db_table)
    with connection.cursor() as cursor:
        if new:
            # Sorted, so concurrent writers take the unique-index locks in one order.
            cursor.execute(
                f"INSERT INTO {WORDS_TABLE}(word) SELECT unnest(%s::text[]) AS w "
                "ORDER BY w ON CONFLICT DO NOTHING",
                [sorted(new)],
            )
        if gone:
            # A word holds letters and digits only: quoted, it is a one-lexeme tsquery.
            cursor.execute(
                f"DELETE FROM {WORDS_TABLE} AS v WHERE v.word = ANY(%s) AND NOT EXISTS ("  # noqa: S608
                f"SELECT 1 FROM {table} AS p "
                "WHERE p.search_vector @@ quote_literal(v.word)::tsquery)",
                [gone],
            )


def _subjects_of(org_ids: Iterable[int]) -> list[int]:
    return list(
        Relationship.objects.current()
        .filter(object_id__in=set(org_ids))
        .order_by()
        .values_list("subject_id", flat=True)
        .distinct()
    )


def document_of_new(party: Party, contacts: Iterable[tuple[str, str]]) -> str:
    """The document of a party about to be inserted, from what the caller holds.

    A new party holds no role yet, so it has no company; ``contacts`` are its
    ``(channel, normalized)`` contact points. Store it in ``party.search_text`` before
    the insert, then call :func:`index_new`: nothing is read back.
    """
    if party.status != Party.Status.ACTIVE:
        return ""
    party.derive_names()
    return build_document(
        names=(party.display_name, party.given_name, party.family_name, party.legal_name),
        contacts=contacts,  # postal addresses add no tokens (see build_document)
    )


def index_new(docs: Sequence[tuple[int, str]]) -> None:
    """Index just-inserted parties, given as ``(id, document)`` pairs whose documents
    (from :func:`document_of_new` or :func:`build_document`) were stored with them."""
    docs = [(pk, doc) for pk, doc in docs if doc]
    if not docs:
        return
    if _is_sqlite():
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {FTS_TABLE}(rowid, tokens) VALUES (%s, %s)",  # noqa: S608
                docs,
            )
    _update_vocabulary(added=[doc for _, doc in docs], dropped=[])


def reindex(party_ids: Iterable[int]) -> None:
    """(Re)build the search documents of these parties; cheap enough to call per write.

    An organisation whose name changed, or which left the index, also reindexes the
    parties that currently hold a role towards it, since its name is their "company".
    """
    ids = sorted({int(pk) for pk in party_ids if pk is not None})
    with transaction.atomic():
        # Chunks keep each IN (…) list well under SQLite's limit on bound parameters.
        for start in range(0, len(ids), CHUNK):
            _reindex(ids[start : start + CHUNK], cascade=True)


def _reindex(ids: Sequence[int], *, cascade: bool, ignore: Iterable[int] = ()) -> None:
    rows = _party_rows(ids)
    contacts = _contacts_of(party_id__in=ids)
    companies = _companies_of(ignore, subject_id__in=ids)
    docs, changed, replaced, renamed_orgs = [], [], [], set()
    for row in rows:
        doc = _document(row, contacts, companies)
        docs.append((row.pk, doc))
        if doc != row.old_text:
            changed.append((row.pk, doc))
            if row.old_text:
                replaced.append(row.old_text)
            if (
                row.kind == Party.Kind.ORGANIZATION
                and row.old_text
                and _name_line(doc) != _name_line(row.old_text)
            ):
                renamed_orgs.add(row.pk)
                if row.merged_into_id:
                    renamed_orgs.add(row.merged_into_id)
    _write_documents(changed)
    _write_fts(ids, docs)
    # Only changed documents can drop words: checking every old word of an unchanged
    # document against the whole index made re-imports of known people crawl.
    _update_vocabulary(
        added=[doc for _, doc in changed], dropped=replaced
    )  # ids without a row (deleted parties) just leave the FTS table
    if cascade and renamed_orgs:
        done = set(ids)
        subjects = [pk for pk in _subjects_of(renamed_orgs) if pk not in done]
        for start in range(0, len(subjects), CHUNK):
            _reindex(subjects[start : start + CHUNK], cascade=False)


def remove(party_ids: Iterable[int]) -> None:
    """Drop these parties from the index (their documents become empty).

    Removing an organisation (merged away, erased, deleted) reindexes the parties
    holding a role towards it or towards the record it was merged into, so their
    company names follow.
    """
    ids = sorted({int(pk) for pk in party_ids if pk is not None})
    with transaction.atomic():
        for start in range(0, len(ids), CHUNK):
            _remove(ids[start : start + CHUNK])


def _remove(ids: Sequence[int]) -> None:
    rows = _party_rows(ids)
    orgs = set()
    for row in rows:
        if row.kind == Party.Kind.ORGANIZATION and row.old_text:
            orgs.add(row.pk)
            if row.merged_into_id:
                orgs.add(row.merged_into_id)
    _write_documents([(row.pk, "") for row in rows if row.old_text])
    _write_fts(ids, [])
    _update_vocabulary(added=[], dropped=[row.old_text for row in rows if row.old_text])
    if orgs:
        gone = set(ids)
        subjects = [pk for pk in _subjects_of(orgs) if pk not in gone]
        for start in range(0, len(subjects), CHUNK):
            # A deleted organisation is removed before its row (and relationships) go:
            # leave its name out now, as nothing will reindex these people later.
            _reindex(subjects[start : start + CHUNK], cascade=False, ignore=gone)


def reindex_all(
    batch_size: int = 2000, progress: Callable[[int, int], object] | None = None
) -> int:
    """Rebuild every search document and the whole index; returns the parties indexed.

    For bulk loads (demo data, imports, benchmarks) after ``bulk_create``, and to catch
    up roles that started or ended with the passing of time. ``progress(done, total)``
    is called after each batch.
    """
    total = Party.objects.count()
    done = indexed = 0
    last = 0
    with transaction.atomic():
        if _is_postgres():
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {WORDS_TABLE}")  # noqa: S608 - rebuilt below
        while True:
            rows = _party_rows(after=last, batch=batch_size)
            if not rows:
                break
            first, last = rows[0].pk, rows[-1].pk
            contacts = _contacts_of(party_id__gte=first, party_id__lte=last)
            companies = _companies_of(subject_id__gte=first, subject_id__lte=last)
            docs = [(row.pk, _document(row, contacts, companies)) for row in rows]
            _write_documents(
                [
                    (pk, doc)
                    for (pk, doc), row in zip(docs, rows, strict=True)
                    if doc != row.old_text
                ]
            )
            _update_vocabulary(added=[doc for _, doc in docs], dropped=[])
            indexed += sum(1 for _, doc in docs if doc)
            done += len(rows)
            if progress is not None:
                progress(done, total)
        if _is_sqlite():
            table = connection.ops.quote_name(Party._meta.db_table)
            with connection.cursor() as cursor:
                # Emptying an FTS5 table row by row takes seconds; recreating it from its
                # own definition (whatever the migrations made it) takes none.
                cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [FTS_TABLE])
                (definition,) = cursor.fetchone()
                cursor.execute(f"DROP TABLE {FTS_TABLE}")
                cursor.execute(definition)
                # FTS5 builds the index far faster in one statement than row by row.
                cursor.execute(
                    f"INSERT INTO {FTS_TABLE}(rowid, tokens) "  # noqa: S608
                    f"SELECT id, search_text FROM {table} WHERE search_text <> ''"
                )
                cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')")  # noqa: S608
        elif _is_postgres():
            # Fresh statistics on the lexemes, or the planner may guess a sequential scan.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(Party._meta.db_table)}")
    return indexed


# ---------------------------------------------------------------- parsing queries


@dataclass(frozen=True)
class Term:
    """One thing the user looks for.

    ``parts`` are the words of a raw query word ("ana.lima@x.org" has four); ``digits``
    is set for a run of phone-like chunks ("+44 20 7946" → "442079 46" → "44207946").
    """

    parts: tuple[str, ...]
    digits: str = ""
    handle: bool = False  # typed with a leading '@'
    email: bool = False  # holds an '@' after its start: an e-mail address

    @property
    def compact(self) -> str:
        return "".join(self.parts)


def parse_query(q: str) -> list[Term]:
    """Terms of a raw query; empty when it holds nothing searchable."""
    raw = (q or "")[:MAX_QUERY_LENGTH].split()
    terms: list[Term] = []
    i = 0
    while i < len(raw) and len(terms) < MAX_TERMS:
        j = i
        while j < len(raw) and _PHONE_CHUNK_RE.match(raw[j]):
            j += 1
        if j > i:
            chunk = "".join(raw[i:j])
            digits = _NON_DIGIT_RE.sub("", chunk)
            if not chunk.startswith("+"):
                digits = digits.lstrip("0")  # a national trunk prefix: "020 …" → "20 …"
            if len(digits) >= 3:
                terms.append(Term(tuple(words(" ".join(raw[i:j]))), digits))
                i = j
                continue
        parts = tuple(words(raw[i])[:MAX_TERMS])
        if parts:
            terms.append(
                Term(
                    parts, handle=raw[i].startswith("@"), email="@" in raw[i][1:] and len(parts) > 1
                )
            )
        i += 1
    return terms


# ---------------------------------------------------------------- building index queries


@dataclass(frozen=True)
class Leaf:
    """One index token, matched exactly or as a prefix."""

    token: str
    prefix: bool = False


@dataclass(frozen=True)
class Group:
    """``op`` ("and" / "or") over leaves and groups: an index query."""

    op: str
    children: tuple[Leaf | Group, ...]


def _any(*leaves: Leaf | Group) -> Group:
    return Group("or", tuple(dict.fromkeys(leaves)))


def _word_node(word: str, *, fuzzy: bool) -> Group:
    if not fuzzy:
        # One or two letters are the start of something, hardly ever a whole word.
        return _any(Leaf(word, len(word) <= 2))
    leaves = [Leaf(word, True), Leaf("_e" + word, True), Leaf("_h" + word, True)]
    leaves += [Leaf(code) for code in phonetic_codes(word)]
    if len(word) >= 4:
        leaves.append(Leaf("_d" + word))
        for variant in deletions(word):
            leaves += [Leaf(variant), Leaf("_d" + variant)]
    return _any(*leaves)


def _phone_node(digits: str) -> Leaf | Group:
    """Phones holding the run ``digits`` anywhere (see ``_phone_tokens``).

    A short run is the prefix of a window or a tail; a long one holds all its windows
    (the ranking then checks they are in a row).
    """
    if len(digits) < PHONE_GRAM:
        return Leaf("_p" + digits, True)
    windows = dict.fromkeys(digits[i : i + PHONE_GRAM] for i in range(len(digits) - PHONE_GRAM + 1))
    return Group("and", tuple(Leaf("_p" + w) for w in windows))


def _term_node(term: Term, *, fuzzy: bool) -> Group:
    if term.digits:
        leaves: list[Leaf | Group] = [_phone_node(term.digits)]
        if len(term.parts) == 1:
            leaves.append(Leaf(term.parts[0], fuzzy))
        return _any(*leaves)
    if len(term.parts) == 1:
        return _word_node(term.parts[0], fuzzy=fuzzy)
    # An e-mail, handle or hyphenated name: all its words, or its compact form by prefix.
    last = len(term.parts) - 1
    every_part = Group(
        "and", tuple(_any(Leaf(p, fuzzy or k == last)) for k, p in enumerate(term.parts))
    )
    compact = term.compact
    whole = _any(Leaf("_e" + compact, True), Leaf("_h" + compact, True), Leaf("_w" + compact, True))
    return Group("or", (every_part, whole))


def _render_fts5(node: Leaf | Group) -> str:
    if isinstance(node, Group):
        return "(" + f" {node.op.upper()} ".join(_render_fts5(c) for c in node.children) + ")"
    # Tokens hold only letters, digits and '_', so quoting them is always safe; a quoted
    # "OR", "NEAR" or "*" is a plain string to FTS5, never an operator.
    return f'"{node.token}"' + ("*" if node.prefix else "")


def _render_tsquery(node: Leaf | Group) -> str:
    if isinstance(node, Group):
        op = " & " if node.op == "and" else " | "
        return "(" + op.join(_render_tsquery(c) for c in node.children) + ")"
    return f"'{node.token}'" + (":*" if node.prefix else "")


def _match_condition(node: Group) -> RawSQL:
    """A WHERE condition on Party rows: their document matches ``node``."""
    table = connection.ops.quote_name(Party._meta.db_table)
    if _is_sqlite():
        sql = (
            f"{table}.id IN (SELECT rowid FROM {FTS_TABLE} "  # noqa: S608
            f"WHERE {FTS_TABLE} MATCH %s)"
        )
        # The expression is a bound parameter; the SQL around it names our tables only.
        return RawSQL(sql, [_render_fts5(node)], output_field=BooleanField())  # noqa: S611
    if _is_postgres():
        # search_vector: a generated column, the tokens of search_text (migration 0003).
        return RawSQL(  # noqa: S611 - the tsquery is a bound parameter
            f"{table}.search_vector @@ %s::tsquery",
            [_render_tsquery(node)],
            output_field=BooleanField(),
        )
    raise NotImplementedError(f"No search index for {connection.vendor}.")


def _similar_words(wanted: Sequence[str], per_word: int = 5) -> dict[str, list[str]]:
    """PostgreSQL: for each word, the indexed name words closest to it by trigrams."""
    if not wanted:
        return {}
    sql = (
        "SELECT q, w.word FROM unnest(%s::text[]) AS q, LATERAL ("  # noqa: S608
        f"SELECT word FROM {WORDS_TABLE} WHERE word %% q "  # '%%': pg_trgm's similarity
        "ORDER BY similarity(word, q) DESC LIMIT %s) AS w"
    )
    out: dict[str, list[str]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(wanted), per_word])
        for query_word, word in cursor.fetchall():
            out[query_word].append(word)
    return out


def _did_you_mean(terms: list[Term]) -> Group | None:
    """PostgreSQL's last resort: each word may also be a trigram neighbour of itself
    among the indexed name words (two typos in one word, which no phonetic code or
    one-edit variant catches). None when that adds nothing."""
    plain = [t.parts[0] for t in terms if not t.digits and len(t.parts) == 1]
    similar = _similar_words([w for w in dict.fromkeys(plain) if len(w) >= 3])
    if not any(similar.values()):
        return None
    nodes = []
    for term in terms:
        node = _term_node(term, fuzzy=True)
        if not term.digits and len(term.parts) == 1 and similar.get(term.parts[0]):
            node = Group("or", (node, *(Leaf(w) for w in similar[term.parts[0]])))
        nodes.append(node)
    return Group("and", tuple(nodes))


# ---------------------------------------------------------------- ranking


@dataclass
class _Doc:
    name: list[str]
    email: list[str]
    phone: list[str]
    handle: list[str]
    company: list[str]
    web: list[str]

    @classmethod
    def parse(cls, text: str) -> _Doc:
        lines = [line.split() for line in (text or "").split("\n")]
        lines += [[] for _ in range(SECTIONS - len(lines))]
        return cls(
            name=lines[Section.NAME],
            email=lines[Section.EMAIL],
            phone=lines[Section.PHONE],
            handle=lines[Section.HANDLE],
            company=lines[Section.COMPANY],
            web=lines[Section.WEB],
        )


def _name_similarity(query: str, word: str, *, last: bool) -> float:
    """How well a query word matches a name word: exact 1, prefix ≤ 0.95, typo ≤ 0.9.

    Only the last query word is probably still being typed; an earlier one is likely
    whole, so "jon" in "jon smyth" means John more than Jonathan.
    """
    if query == word:
        return 1.0
    if word.startswith(query):
        return (0.85 if last else 0.75) + 0.1 * len(query) / len(word)
    ratio = fuzz.ratio(query, word) / 100
    if set(phonetic_codes(query)) & set(phonetic_codes(word)):
        return 0.5 + 0.4 * ratio
    return 0.8 * ratio if ratio >= 0.75 else 0.0


def _plain_similarity(query: str, tokens: list[str], exact: float, prefix: float) -> float:
    best = 0.0
    for token in tokens:
        if token == query:
            return exact
        if not best and token.startswith(query) and not token.startswith("_"):
            best = prefix
    return best


def _compact_similarity(compact: str, tokens: list[str], tag: str, exact: float) -> float:
    """A compact (punctuation-free) e-mail, handle or address equal to or starting with
    ``compact``; the closer to whole, the better."""
    best = 0.0
    wanted = tag + compact
    for token in tokens:
        if token.startswith(wanted):
            if len(token) == len(wanted):
                return exact
            value_length = len(token) - len(tag)
            best = max(best, exact - 0.05 - 0.1 * (1 - len(compact) / value_length))
    return best


def _word_score(word: str, doc: _Doc, *, handle: bool = False, last: bool = True) -> float:
    """The best match of one query word anywhere in the document, weighted by field."""
    name = max((_name_similarity(word, w, last=last) for w in doc.name), default=0.0)
    # "@ana" says "a handle": then a handle match beats a name match.
    on_handle = 1.0 if handle else 0.85
    if name >= on_handle:
        # No other field scores above ``on_handle``: a name this good wins (most
        # candidates of a short query stop here, typed prefixes of a name).
        return name
    return max(
        name,
        _plain_similarity(word, doc.handle, on_handle, on_handle - 0.1),
        _compact_similarity(word, doc.handle, "_h", on_handle),
        _plain_similarity(word, doc.email, 0.8, 0.7),
        _compact_similarity(word, doc.email, "_e", 0.8),
        _plain_similarity(word, doc.company, 0.75, 0.65),
        _plain_similarity(word, doc.web, 0.7, 0.6),
    )


def _term_score(term: Term, doc: _Doc, *, last: bool) -> float:
    if term.digits and any(t.startswith("_f") and term.digits in t for t in doc.phone):
        # Ten digits or more say "this number"; "123" could be anyone's.
        return 0.8 + 0.2 * min(len(term.digits), 10) / 10
    if len(term.parts) == 1:
        return _word_score(term.parts[0], doc, handle=term.handle, last=last)
    compact = term.compact
    whole = max(
        _compact_similarity(compact, doc.email, "_e", 1.0),
        _compact_similarity(compact, doc.handle, "_h", 1.0),
        _compact_similarity(compact, doc.web, "_w", 0.9),
    )
    each = [_word_score(part, doc, last=last) for part in term.parts]
    return max(whole, 0.9 * sum(each) / len(each) if min(each) > 0 else 0.0)


def _score(terms: list[Term], query_text: str, text: str) -> float:
    """Rank of a document for the query, 0 when some term matches nothing in it."""
    doc = _Doc.parse(text)
    total = 0.0
    for index, term in enumerate(terms):
        score = _term_score(term, doc, last=index == len(terms) - 1)
        if score <= 0:
            # Every term must match something: the looser tiers only widen what counts
            # as a match (a typo, a phonetic twin), never turn the query into "any word".
            return 0.0
        total += score
    # How the whole query reads against the whole name breaks ties between
    # equally good word matches ("John Smith" before "John Smithson-Jones").
    whole = fuzz.token_sort_ratio(query_text, " ".join(doc.name)) / 100
    return total / len(terms) + 0.1 * whole


# ---------------------------------------------------------------- searching


def _candidates(
    queryset: QuerySet, condition: RawSQL, cap: int, also: Q | None = None
) -> list[tuple[int, str, str]]:
    qs = queryset.order_by().filter(condition)
    if also is not None:
        qs = qs.filter(also)
    try:
        return list(qs.values_list("pk", "display_name", "search_text")[:cap])
    except OperationalError:
        if not _is_sqlite():
            raise
        # An FTS5 tokenizer built on older Unicode tables may split one of our tokens in
        # two and refuse the resulting phrase; treat it as no match rather than a 500.
        logger.warning("search: the index refused a query", exc_info=True)
        return []


def _identifies(terms: list[Term]) -> bool:
    """Whether every term is an identifier: an e-mail address or a phone number (six
    digits or more).

    Once such a query matched exactly, the typo tier has nothing to add but noise, and
    it is the costly one: every part of an e-mail as a prefix ("example"*, "com"*)
    intersects posting lists of most of the index.
    """
    return all(term.email or len(term.digits) >= PHONE_GRAM for term in terms)


def _only_short_words(terms: list[Term]) -> bool:
    """Whether the query is nothing but the first letters of names (no digits, no
    e-mail, no handle): see ``SHORT_WORD``."""
    return all(
        not term.digits
        and not term.email
        and not term.handle
        and all(len(part) <= SHORT_WORD for part in term.parts)
        for term in terms
    )


def search(queryset: QuerySet[Party], q: str, *, limit: int = 50) -> list[Party]:
    """The parties of ``queryset`` matching ``q``, best first, at most ``limit``.

    ``queryset`` is already scoped (permissions, kind, status…); every candidate is
    drawn through it. An empty or unsearchable query returns ``[]``.
    """
    terms = parse_query(q)
    if not terms or limit <= 0:
        return []
    # Room to re-rank, bounded for speed, but never fewer than asked for (exports).
    cap = max(min(max(MIN_CANDIDATES, limit * 4), MAX_CANDIDATES), limit)
    short = _only_short_words(terms)
    if short:
        cap = max(limit * SHORT_QUERY_CANDIDATES_PER_RESULT, limit)
    query_text = " ".join(p for t in terms for p in t.parts)

    found: dict[int, tuple[str, str]] = {}

    def collect(condition: RawSQL, also: Q | None = None) -> None:
        for pk, display_name, text in _candidates(queryset, condition, cap, also):
            found.setdefault(pk, (display_name, text))

    if short:
        # With so few candidates, names that start with the letters typed (what the user
        # means by "jo") go first, or e-mail and web-address prefixes could fill the room.
        exact = _match_condition(Group("and", tuple(_term_node(t, fuzzy=False) for t in terms)))
        collect(exact, Q(sort_name__startswith=terms[0].parts[0]))
    # Exact words first: when they are enough, prefixes and typos would only crowd them.
    for fuzzy in (False, True):
        if len(found) >= cap:
            break
        collect(_match_condition(Group("and", tuple(_term_node(t, fuzzy=fuzzy) for t in terms))))
        if len(found) >= min(limit, cap) or (found and _identifies(terms)):
            break
    if not found and _is_postgres() and (node := _did_you_mean(terms)) is not None:
        collect(_match_condition(node))

    scored = []
    for pk, (display_name, text) in found.items():
        score = _score(terms, query_text, text)
        if score > 0:
            scored.append((-score, len(display_name), display_name.casefold(), pk))
    scored.sort()
    best = [pk for *_, pk in scored[:limit]]
    parties = {party.pk: party for party in queryset.filter(pk__in=best)} if best else {}
    return [parties[pk] for pk in best if pk in parties]
