"""ContactPoint.channel loses its own index: every lookup by channel also names the
normalized value or the party, and a create writes three or four contact points.

The index goes by name (kith.core.migration_ops.drop_indexes): no table rebuild.
"""

from django.db import migrations, models

from kith.core.migration_ops import drop_indexes


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
                drop_indexes(
                    "people_contactpoint_channel_6dfb1166",
                    "people_contactpoint_channel_6dfb1166_like",
                ),
            ],
        ),
    ]
