from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "kith.portal"
    label = "portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.web import panels

        # On a staff person/organisation page: the customer-portal side of that party.
        panels.register(
            "party", "portal.access", "kith.portal.staff.party_panel", column="side", order=70
        )
