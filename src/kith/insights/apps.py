"""Insights app: registers the influence panel on the person page."""

from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "kith.insights"
    label = "insights"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.insights import views
        from kith.web import panels

        panels.register("party", "insights.influence", views.party_panel, column="side", order=70)
