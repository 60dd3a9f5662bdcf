"""FeedItem.user loses its own index: the unique (user, post) and the (user,
target_type, target_id, post) indexes start with it, and a post writes a feed row for
every follower.

The index goes by name (kith.core.migration_ops.drop_indexes): no table rebuild.
"""

from django.conf import settings
from django.db import migrations, models

from kith.core.migration_ops import drop_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("collab", "0003_follow_keys_unindexed"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="feeditem",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[drop_indexes("collab_feeditem_user_id_8277517a")],
        ),
    ]
