from django.apps import AppConfig


class InteractionsConfig(AppConfig):
    name = "kith.interactions"
    label = "interactions"

    def ready(self) -> None:
        from kith.interactions import subscribers  # noqa: F401  (registers event subscribers)
