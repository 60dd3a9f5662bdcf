"""Follow's two keys lose their own indexes: the unique (target_type, target_id,
follower) and the (follower, target_type) index start with them.

The index goes by name (kith.core.migration_ops.drop_indexes): no table rebuild.
"""

from django.conf import settings
from django.db import migrations, models

from kith.core.migration_ops import drop_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("collab", "0002_feed_item_post_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="follow",
                    name="follower",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="collab_follows",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="follow",
                    name="target_type",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to="contenttypes.contenttype",
                    ),
                ),
            ],
            database_operations=[
                drop_indexes(
                    "collab_follow_follower_id_31345c48", "collab_follow_target_type_id_9b0435e0"
                ),
            ],
        ),
    ]
