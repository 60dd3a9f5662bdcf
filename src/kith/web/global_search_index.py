"""Substring indexes for the global search (the command palette) over other apps' tables.

The palette finds a deal, case, activity, collaboration post or idea by any part of a
word of its title (``"zeph"`` finds "Zephyr platform renewal"), every word of the query
required. Without an index that is a scan of each table per keystroke; with one it is
an index lookup:

* **SQLite**: an FTS5 table with the ``trigram`` tokenizer per indexed column, an
  *external content* table over the app's own table (``content=<table>``), kept in
  step by three triggers (insert, delete, update of the column). A quoted phrase of
  three or more characters matches as a case-insensitive substring.
* **PostgreSQL**: a ``pg_trgm`` GIN index on ``UPPER(<column>::text)`` — exactly the
  expression Django writes for ``icontains``, so the ORM lookup itself is indexed and
  its escaping of ``%`` and ``_`` stays Django's.

Words shorter than three characters have no trigram, could only be found by a scan,
and are left out of the match (a query of only such words finds nothing here; case
numbers are looked up by their own index).

Why not migrations: the tables belong to other apps, and on SQLite Django rebuilds a
table for many schema changes (``_remake_table``), which drops its triggers. So the
indexes are (re)created after every ``migrate`` (``post_migrate``, connected by
kith.community's AppConfig): a missing trigger is recreated and the FTS table rebuilt
from its content table; when everything is there this costs one catalogue query.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connections
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

logger = logging.getLogger(__name__)

MIN_WORD = 3
MAX_WORDS = 6


@dataclass(frozen=True)
class Indexed:
    key: str  # "deal"
    table: str  # the app's table
    column: str  # the indexed text column (also the model field's name)

    @property
    def fts(self) -> str:
        return f"gsearch_{self.key}_fts"

    @property
    def pg_index(self) -> str:
        return f"gsearch_{self.key}_trgm"

    @property
    def triggers(self) -> tuple[str, str, str]:
        return (f"{self.fts}_ai", f"{self.fts}_ad", f"{self.fts}_au")


INDEXED: dict[str, Indexed] = {
    spec.key: spec
    for spec in (
        Indexed("deal", "sales_deal", "title"),
        Indexed("case", "service_case", "subject"),
        Indexed("activity", "work_activity", "summary"),
        Indexed("post", "collab_post", "body_markdown"),
        Indexed("idea", "ideas_idea", "title"),
    )
}


def words(q: str) -> list[str]:
    """The query's words an index can match (three characters or more), at most six."""
    return [w for w in q.split() if len(w) >= MIN_WORD][:MAX_WORDS]


def _fts_expression(terms: list[str]) -> str:
    # Each word a quoted FTS5 phrase ("" escapes a quote): no operator or column
    # filter of the user's can get through.
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)


def match(qs: QuerySet, key: str, q: str) -> QuerySet | None:
    """``qs`` narrowed to the rows whose indexed column contains every word of ``q``
    (case-insensitive), through the index; None when ``q`` has no indexable word."""
    spec = INDEXED[key]
    terms = words(q)
    if not terms:
        return None
    if connections[qs.db].vendor == "sqlite":
        table = connections[qs.db].ops.quote_name(spec.table)
        condition = RawSQL(  # noqa: S611 - the expression travels as a bound parameter
            f"{table}.id IN (SELECT rowid FROM {spec.fts} WHERE {spec.fts} MATCH %s)",  # noqa: S608
            [_fts_expression(terms)],
            output_field=BooleanField(),
        )
        return qs.filter(condition)
    condition = Q()
    for term in terms:
        condition &= Q(**{f"{spec.column}__icontains": term})
    return qs.filter(condition)


# ---------------------------------------------------------------- building the indexes


def _sqlite_tables(cursor) -> dict[str, str]:
    cursor.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'trigger')")
    return dict(cursor.fetchall())


def _ensure_sqlite(cursor, spec: Indexed, present: dict[str, str]) -> bool:
    """Create what is missing of ``spec``'s FTS table and triggers; True when rebuilt."""
    if spec.table not in present:
        return False
    if spec.fts in present and all(t in present for t in spec.triggers):
        return False
    col, fts, table = spec.column, spec.fts, spec.table
    cursor.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({col}, "
        f"content='{table}', content_rowid='id', tokenize='trigram')"
    )
    for name in spec.triggers:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
    ai, ad, au = spec.triggers
    cursor.execute(
        f"CREATE TRIGGER {ai} AFTER INSERT ON {table} BEGIN "  # noqa: S608
        f"INSERT INTO {fts}(rowid, {col}) VALUES (new.id, new.{col}); END"
    )
    cursor.execute(
        f"CREATE TRIGGER {ad} AFTER DELETE ON {table} BEGIN "  # noqa: S608
        f"INSERT INTO {fts}({fts}, rowid, {col}) VALUES ('delete', old.id, old.{col}); END"
    )
    cursor.execute(
        f"CREATE TRIGGER {au} AFTER UPDATE OF {col} ON {table} BEGIN "  # noqa: S608
        f"INSERT INTO {fts}({fts}, rowid, {col}) VALUES ('delete', old.id, old.{col}); "
        f"INSERT INTO {fts}(rowid, {col}) VALUES (new.id, new.{col}); END"
    )
    # The content table may have changed while no trigger watched it: index it afresh.
    cursor.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")  # noqa: S608
    return True


def ensure_indexes(using: str = "default") -> list[str]:
    """Create the missing indexes of every indexed column; returns the keys (re)built."""
    connection = connections[using]
    built: list[str] = []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            present = _sqlite_tables(cursor)
            for spec in INDEXED.values():
                if _ensure_sqlite(cursor, spec, present):
                    built.append(spec.key)
        elif connection.vendor == "postgresql":
            tables = set(connection.introspection.table_names(cursor))
            cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'gsearch_%%'")
            have = {row[0] for row in cursor.fetchall()}
            wanted = [s for s in INDEXED.values() if s.table in tables and s.pg_index not in have]
            if wanted:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            for spec in wanted:
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {spec.pg_index} ON {spec.table} "
                    f"USING gin ((UPPER({spec.column}::text)) gin_trgm_ops)"
                )
                built.append(spec.key)
    if built:
        logger.info("global search: built the %s index(es)", ", ".join(built))
    return built


def on_post_migrate(sender, using: str = "default", **kwargs) -> None:
    """``post_migrate`` receiver: runs once per migrate (for kith.community's signal),
    after every app's tables exist."""
    if getattr(sender, "name", "") != "kith.community":
        return
    ensure_indexes(using)
