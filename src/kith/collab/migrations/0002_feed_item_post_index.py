"""FeedItem.post loses its B-tree index; a lookup-only index replaces it.

On PostgreSQL a B-tree on ``post_id`` tempts the planner to read "my feed" (user =
X ORDER BY post_id DESC LIMIT n) backwards along it and filter by user, which skips
every row a popular post fanned out to other users. A hash index serves the lookups by
post (deleting a post's feed rows) and cannot be used for ordering. SQLite has no hash
indexes and its planner keeps to the (user, post) index, so it gets a plain one.
"""

import django.db.models.deletion
from django.db import migrations, models


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS collab_feeditem_post_lookup "
            "ON collab_feeditem USING hash (post_id)"
        )
    else:
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS collab_feeditem_post_lookup ON collab_feeditem (post_id)"
        )


def drop_index(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS collab_feeditem_post_lookup")


class Migration(migrations.Migration):
    dependencies = [
        ("collab", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="feeditem",
            name="post",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="feed_items",
                to="collab.post",
            ),
        ),
        migrations.RunPython(create_index, drop_index),
    ]
