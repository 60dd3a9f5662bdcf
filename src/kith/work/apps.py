"""App config: wires kith.work to people merges."""

from django.apps import AppConfig


class WorkConfig(AppConfig):
    name = "kith.work"
    label = "work"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.people.merging import party_merged
        from kith.web import panels
        from kith.work import signals, views

        party_merged.connect(signals.move_work_on_merge, dispatch_uid="kith.work.merge")
        # Open activities about a person or organisation, on their page.
        panels.register("party", "work.activities", views.party_panel, column="side", order=30)
