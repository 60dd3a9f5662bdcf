"""ContactPoint.channel loses its own index: every lookup by channel also names the
normalized value or the party, and a create writes three or four contact points.

The index is dropped by name (``DROP INDEX IF EXISTS``) rather than by ``AlterField``'s
own SQL: on SQLite that rebuilt the whole table, every row copied, for a change that
only removes an index. The names are those Django gave the indexes on both databases
(PostgreSQL also made a ``_like`` one for a text column).
"""

from django.db import migrations, models


def _drop(*names: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        [f'DROP INDEX IF EXISTS "{name}"' for name in names], reverse_sql=migrations.RunSQL.noop
    )


class Migration(migrations.Migration):
    dependencies = [("people", "0010_party_family_lower_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="contactpoint",
                    name="channel",
                    field=models.CharField(max_length=30),
                ),
            ],
            database_operations=[
                _drop(
                    "people_contactpoint_channel_6dfb1166",
                    "people_contactpoint_channel_6dfb1166_like",
                ),
            ],
        ),
    ]
