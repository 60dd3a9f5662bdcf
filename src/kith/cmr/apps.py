from django.apps import AppConfig


class CmrConfig(AppConfig):
    name = "kith.cmr"
    label = "cmr"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.web import panels

        from . import views

        panels.register("party", "cmr.consent", views.party_panel, column="side", order=75)
        panels.register("party", "cmr.trust", views.trust_panel, column="side", order=76)
