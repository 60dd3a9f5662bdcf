"""Search index over ``Topic.search_text`` and the seeded trust levels and badges.

SQLite gets an FTS5 table keyed by topic id; PostgreSQL a generated ``search_vector``
column (the document's tokens as a tsvector) with a GIN index, as kith.people does
for parties. The SQL is spelled out here so this migration never changes.
"""

from django.db import migrations

FTS_CREATE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS community_topic_fts USING fts5("
    "tokens, detail=none, prefix='3', "
    "tokenize=\"unicode61 remove_diacritics 0 tokenchars '_'\")"
)
PG_CREATE = [
    "ALTER TABLE community_topic ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(array_to_tsvector(array_remove(regexp_split_to_array(search_text, '\\s+'), ''))) STORED",
    "CREATE INDEX community_topic_search_gin ON community_topic USING gin (search_vector)",
]
PG_DROP = [
    "DROP INDEX IF EXISTS community_topic_search_gin",
    "ALTER TABLE community_topic DROP COLUMN IF EXISTS search_vector",
]

TRUST_LEVELS = [
    # level, name, days visited, posts read, replies, likes given, likes received,
    # max flags against, posts per day, links allowed
    (0, "New", 0, 0, 0, 0, 0, 1000, 3, False),
    (1, "Basic", 2, 10, 0, 0, 0, 5, 20, True),
    (2, "Member", 10, 50, 3, 1, 1, 3, 50, True),
    (3, "Regular", 30, 200, 10, 10, 10, 1, 100, True),
    (4, "Leader", 60, 500, 50, 30, 50, 0, 500, True),
]
BADGES = [
    ("first-question", "Curious", "Asked a first question."),
    ("first-answer", "Helper", "Answered a first question."),
    ("first-accepted", "Problem solver", "Gave an answer that was accepted."),
    ("good-answer", "Good answer", "An answer scored 10 or more."),
    ("trusted", "Trusted", "Reached trust level 2."),
    ("regular", "Regular", "Reached trust level 3."),
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(FTS_CREATE)
    elif vendor == "postgresql":
        for sql in PG_CREATE:
            schema_editor.execute(sql)
    TrustLevelRule = apps.get_model("community", "TrustLevelRule")
    for level, name, days, read, replies, given, received, flags, per_day, links in TRUST_LEVELS:
        TrustLevelRule.objects.get_or_create(
            level=level,
            defaults=dict(
                name=name,
                window_days=100,
                min_days_visited=days,
                min_posts_read=read,
                min_replies=replies,
                min_likes_given=given,
                min_likes_received=received,
                max_flags_against=flags,
                posts_per_day=per_day,
                links_allowed=links,
            ),
        )
    Badge = apps.get_model("community", "Badge")
    for slug, name, description in BADGES:
        Badge.objects.get_or_create(slug=slug, defaults={"name": name, "description": description})


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS community_topic_fts")
    elif vendor == "postgresql":
        for sql in PG_DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("community", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
