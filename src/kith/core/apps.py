from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kith.core"
    label = "core"
    verbose_name = "Kith core"
