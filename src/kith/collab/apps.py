from django.apps import AppConfig


class CollabConfig(AppConfig):
    name = "kith.collab"
    label = "collab"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.collab import subscribers, views  # noqa: F401  (event subscribers, merges)
        from kith.core import worker
        from kith.web import panels

        # The feed of a person or organisation, on their page.
        panels.register("party", "collab.feed", views.party_panel, column="main", order=40)
        # Digests for those who chose daily mail (and what immediate mail missed).
        worker.periodic("collab.daily_digests", every_seconds=24 * 3600)(_send_daily_digests)


def _send_daily_digests() -> None:
    from kith.collab import tasks

    tasks.send_digests.call(mode="daily")
