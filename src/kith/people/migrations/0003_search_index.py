"""Search indexes over ``Party.search_text`` (see kith.people.search).

SQLite gets an FTS5 table keyed by party id. PostgreSQL gets pg_trgm, a generated
``search_vector`` column (the document's tokens as a tsvector) with a GIN index, and a
table of the name words seen, with a trigram GIN index. The SQL is spelled out here,
not imported, so this migration never changes after the fact.

Existing rows are indexed by ``kith.people.search.reindex_all()``.
"""

from django.db import migrations

FTS_CREATE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS people_party_fts USING fts5("
    "tokens, detail=none, prefix='2 3', "
    "tokenize=\"unicode61 remove_diacritics 0 tokenchars '_'\")"
)
PG_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # The document's tokens as a tsvector, kept by PostgreSQL itself. Stored rather than
    # an expression index so a plan that filters rows one by one stays cheap (splitting
    # the text costs ~25 µs a row; matching a stored tsvector well under 1 µs). Django's
    # model does not know this column: it is PostgreSQL-only and never written by hand.
    "ALTER TABLE people_party ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(array_to_tsvector(array_remove(regexp_split_to_array(search_text, '\\s+'), ''))) STORED",
    "CREATE INDEX people_party_search_gin ON people_party USING gin (search_vector)",
    # The words of names ever indexed, for "did you mean": a trigram lookup over a few
    # thousand words is sub-millisecond, where trigrams over every row's name are not.
    "CREATE TABLE people_search_word (word text PRIMARY KEY)",
    "CREATE INDEX people_search_word_trgm ON people_search_word USING gin (word gin_trgm_ops)",
]
PG_DROP = [
    "DROP TABLE IF EXISTS people_search_word",
    "DROP INDEX IF EXISTS people_party_search_gin",
    "ALTER TABLE people_party DROP COLUMN IF EXISTS search_vector",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(FTS_CREATE)
    elif vendor == "postgresql":
        for sql in PG_CREATE:
            schema_editor.execute(sql)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS people_party_fts")
    elif vendor == "postgresql":
        for sql in PG_DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("people", "0002_role_vocabulary")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
