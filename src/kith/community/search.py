"""Search over community topics with the same two index backends as kith.people.search.

The document of a topic (``Topic.search_text``) is the plain words of its title, tags
and opening post, tokenised in Python by ``kith.people.search.words`` so index and
query always agree; titles are also indexed as ``_t``-tagged tokens so title matches
rank first. SQLite keeps the tokens in an FTS5 table (``community_topic_fts``, rowid =
topic id); PostgreSQL in a generated tsvector column with a GIN index (migration 0002).

A query keeps its meaningful words (stop words dropped), matches every word (the last
one as a prefix, since people type), falls back to any word when that finds too little
(what "similar questions" needs), intersects with the caller's permission-scoped
queryset in the same SQL statement, takes a bounded set of the newest candidates and
re-ranks them in Python with rapidfuzz. User input only travels as bound parameters;
the FTS5 / tsquery expressions are assembled from ``[a-z0-9]`` tokens.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from rapidfuzz import fuzz

from kith.collab.rendering import render_markdown
from kith.people.search import words

from .models import Topic

FTS_TABLE = "community_topic_fts"
MAX_QUERY_LENGTH = 300
MAX_TERMS = 8
CANDIDATES = 200
_TAGS = re.compile(r"<[^>]+>")

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def _meaningful(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOP_WORDS and len(w) <= 60]


def build_document(*, title: str, body: str, tags: list[str]) -> str:
    """The tokens of a topic: title words (plain and ``_t``-tagged), tags, body words."""
    title_words = _meaningful(title)
    plain = _meaningful(_TAGS.sub(" ", render_markdown(body)))[:2000]
    seen: dict[str, None] = {}
    for token in [*title_words, *(f"_t{w}" for w in title_words), *tags, *plain]:
        seen.setdefault(token, None)
    return " ".join(seen)


def index_topic(topic: Topic, *, body: str) -> None:
    """Write ``topic``'s document and (on SQLite) its FTS row; call in the writer's transaction."""
    doc = build_document(
        title=topic.title, body=body, tags=list(topic.tags.values_list("slug", flat=True))
    )
    Topic.objects.filter(pk=topic.pk).update(search_text=doc)
    topic.search_text = doc
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [topic.pk])  # noqa: S608
            if doc:
                cursor.execute(
                    f"INSERT INTO {FTS_TABLE}(rowid, tokens) VALUES (%s, %s)",  # noqa: S608
                    [topic.pk, doc],
                )


def index_many(rows: list[tuple[int, str]]) -> None:
    """Bulk: ``(topic id, document)`` pairs already stored in ``search_text`` (demo, benchmark)."""
    if connection.vendor != "sqlite" or not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {FTS_TABLE}(rowid, tokens) VALUES (%s, %s)",  # noqa: S608
            [(pk, doc) for pk, doc in rows if doc],
        )


def remove_topic(topic_id: int) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [topic_id])  # noqa: S608


def _expression(terms: list[str], *, every: bool) -> str:
    last = len(terms) - 1
    if connection.vendor == "sqlite":
        parts = [
            f'"{t}"' + ("*" if i == last and every and len(t) >= 3 else "")
            for i, t in enumerate(terms)
        ]
        return (" AND " if every else " OR ").join(parts)
    parts = [
        f"'{t}'" + (":*" if i == last and every and len(t) >= 3 else "")
        for i, t in enumerate(terms)
    ]
    return (" & " if every else " | ").join(parts)


def _condition(expression: str) -> RawSQL:
    if connection.vendor == "sqlite":
        return RawSQL(  # noqa: S611 - the expression is a bound parameter
            f"community_topic.id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s)",  # noqa: S608
            [expression],
            output_field=BooleanField(),
        )
    return RawSQL(
        "community_topic.search_vector @@ to_tsquery('simple', %s)",
        [expression],
        output_field=BooleanField(),
    )


def _term_flags(terms: list[str]) -> tuple[list[str], list[RawSQL]]:
    """PostgreSQL: per query word, whether a candidate's document holds it and whether
    its title does, computed beside the match so the document never leaves the server."""
    names: list[str] = []
    exprs: list[RawSQL] = []
    for i, term in enumerate(terms):
        for prefix, tag in (("", "h"), ("_t", "t")):
            names.append(f"_{tag}{i}")
            exprs.append(
                RawSQL(
                    "community_topic.search_vector @@ to_tsquery('simple', %s)",
                    [f"'{prefix}{term}'"],
                    output_field=BooleanField(),
                )
            )
    return names, exprs


def _score(terms: list[str], query: str, title: str, answered: bool, hits: int, title_hits: int):
    fuzzy = fuzz.token_set_ratio(query.casefold(), title.casefold()) / 100
    return hits * 2 + title_hits + fuzzy + (0.5 if answered else 0)


def _candidates(qs: QuerySet[Topic], terms: list[str], q: str, *, every: bool) -> dict[int, float]:
    """``{topic id: score}`` of the newest CANDIDATES matches.

    Only the columns the ranking reads come back, as plain tuples (no model instances,
    no timestamps): on PostgreSQL the id, title, answered and a flag per word; on SQLite
    the document itself (in-process, nothing travels)."""
    matched = qs.filter(_condition(_expression(terms, every=every))).order_by("-id")
    scores: dict[int, float] = {}
    if connection.vendor == "postgresql":
        names, exprs = _term_flags(terms)
        rows = matched.annotate(**dict(zip(names, exprs, strict=True))).values_list(
            "id", "title", "answered", *names
        )[:CANDIDATES]
        for pk, title, answered, *flags in rows:
            hits = sum(1 for i in range(len(terms)) if flags[2 * i] or flags[2 * i + 1])
            title_hits = sum(1 for i in range(len(terms)) if flags[2 * i + 1])
            scores[pk] = _score(terms, q, title, answered, hits, title_hits)
        return scores
    for pk, title, answered, doc in matched.values_list("id", "title", "answered", "search_text")[
        :CANDIDATES
    ]:
        tokens = set(doc.split())
        hits = sum(1 for t in terms if t in tokens or f"_t{t}" in tokens)
        title_hits = sum(1 for t in terms if f"_t{t}" in tokens)
        scores[pk] = _score(terms, q, title, answered, hits, title_hits)
    return scores


def search(queryset: QuerySet[Topic], q: str, *, limit: int = 20) -> list[Topic]:
    """The topics of ``queryset`` best matching ``q`` (every word, else any word).

    The newest CANDIDATES matches are ranked from a few columns; only the ``limit``
    best are then read whole (by primary key), without their search document."""
    q = (q or "")[:MAX_QUERY_LENGTH]
    terms = list(dict.fromkeys(_meaningful(q)))[:MAX_TERMS]
    if not terms:
        return []
    found: dict[int, float] = {}
    for every in (True, False):
        if not every and (len(terms) == 1 or len(found) >= limit):
            break
        for pk, score in _candidates(queryset, terms, q, every=every).items():
            found.setdefault(pk, score)
    best = sorted(found, key=lambda pk: (-found[pk], -pk))[:limit]
    if not best:
        return []
    topics = queryset.filter(pk__in=best).defer("search_text").in_bulk()
    return [topics[pk] for pk in best if pk in topics]
