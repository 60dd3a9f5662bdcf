from django.apps import AppConfig


class IdeasConfig(AppConfig):
    name = "kith.ideas"
    label = "ideas"
    default_auto_field = "django.db.models.BigAutoField"
