from django.apps import AppConfig


class CmrConfig(AppConfig):
    name = "kith.cmr"
    label = "cmr"
    default_auto_field = "django.db.models.BigAutoField"
