"""AuditEntry.object_type loses its own index: the (object_type, object_id,
-occurred_at) index starts with it, and an audit row comes with every change.

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
    dependencies = [("core", "0004_trash"), ("contenttypes", "0002_remove_content_type_name")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditentry",
                    name="object_type",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to="contenttypes.contenttype",
                    ),
                ),
            ],
            database_operations=[
                _drop("core_auditentry_object_type_id_f417ed4f"),
            ],
        ),
    ]
