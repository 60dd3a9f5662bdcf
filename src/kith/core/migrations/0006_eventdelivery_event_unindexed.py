"""EventDelivery.event loses its own index: the unique (event, subscriber) starts with
it, and a row is written for every event each subscriber takes.

The index goes by name (kith.core.migration_ops.drop_indexes): no table rebuild.
"""

from django.db import migrations, models

from kith.core.migration_ops import drop_indexes


class Migration(migrations.Migration):
    dependencies = [("core", "0005_auditentry_object_type_unindexed")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="eventdelivery",
                    name="event",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="deliveries",
                        to="core.outboxevent",
                    ),
                ),
            ],
            database_operations=[drop_indexes("core_eventdelivery_event_id_f7d0fa70")],
        ),
    ]
