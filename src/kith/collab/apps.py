from django.apps import AppConfig


class CollabConfig(AppConfig):
    name = "kith.collab"
    label = "collab"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.collab import subscribers  # noqa: F401  (event subscribers, merge receiver)
