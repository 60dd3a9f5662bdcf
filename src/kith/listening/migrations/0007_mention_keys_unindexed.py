"""Mention.source, .person and .assignee lose their own indexes: the (source,
published_at), (person, -published_at) and (assignee, is_open, -rank, -id) indexes
start with them, and an ingest writes a mention for every post it takes.

The indexes go by name (kith.core.migration_ops.drop_indexes): no table rebuild.
"""

from django.conf import settings
from django.db import migrations, models

from kith.core.migration_ops import drop_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("listening", "0006_mention_mirror"),
        ("people", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="mention",
                    name="source",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="mentions",
                        to="listening.source",
                    ),
                ),
                migrations.AlterField(
                    model_name="mention",
                    name="person",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.SET_NULL,
                        related_name="mentions",
                        to="people.party",
                    ),
                ),
                migrations.AlterField(
                    model_name="mention",
                    name="assignee",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.SET_NULL,
                        related_name="listening_mentions",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                drop_indexes(
                    "listening_mention_source_id_2c436a5a",
                    "listening_mention_person_id_d1741b03",
                    "listening_mention_assignee_id_8c6325e5",
                )
            ],
        ),
    ]
