from django.apps import AppConfig


class CollabConfig(AppConfig):
    name = "kith.collab"
    label = "collab"
    default_auto_field = "django.db.models.BigAutoField"
