from django.apps import AppConfig


class CollabConfig(AppConfig):
    name = "kith.collab"
    label = "collab"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.collab import access, subscribers  # noqa: F401  (event subscribers, merges)
        from kith.core import worker
        from kith.interactions.access import register_mirror
        from kith.web import panels

        # The feed of a person or organisation, on their page.
        panels.register(
            "party", "collab.feed", "kith.collab.views.party_panel", column="main", order=40
        )
        # Digests for those who chose daily mail (and what immediate mail missed).
        worker.periodic("collab.daily_digests", every_seconds=24 * 3600)(_send_daily_digests)
        # A customer's post or a mention on a timeline shows only to who may read the post.
        register_mirror("collab.post", access.readable_posts)
        register_mirror("collab.comment", access.readable_comments)


def _send_daily_digests() -> None:
    from kith.collab import tasks

    tasks.send_digests.call(mode="daily")
