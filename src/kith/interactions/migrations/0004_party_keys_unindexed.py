"""Interaction.party and Transaction.party lose their own indexes: the composite
indexes on (party, -occurred_at, -id) and (party, channel, …) start with them, and each
index is one more write for every interaction (a listening ingest writes many).

The indexes go by name (kith.core.migration_ops.drop_indexes): no table rebuild.
"""

from django.db import migrations, models

from kith.core.migration_ops import drop_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("interactions", "0003_call_duration_outcome"),
        ("people", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="interaction",
                    name="party",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="interactions",
                        to="people.party",
                    ),
                ),
                migrations.AlterField(
                    model_name="transaction",
                    name="party",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="transactions",
                        to="people.party",
                    ),
                ),
            ],
            database_operations=[
                drop_indexes(
                    "interactions_interaction_party_id_69474954",
                    "interactions_transaction_party_id_c8d5c80d",
                ),
            ],
        ),
    ]
