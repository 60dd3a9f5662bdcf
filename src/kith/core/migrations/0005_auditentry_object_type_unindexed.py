"""AuditEntry.object_type loses its own index: the (object_type, object_id,
-occurred_at) index starts with it, and an audit row comes with every change.

The index goes by name (kith.core.migration_ops.drop_indexes): no table rebuild.
"""

from django.db import migrations, models

from kith.core.migration_ops import drop_indexes


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
                drop_indexes("core_auditentry_object_type_id_f417ed4f"),
            ],
        ),
    ]
