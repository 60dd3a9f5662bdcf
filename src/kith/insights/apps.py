"""Insights app: the influence panel on the person page and the nightly recomputation."""

import contextlib

from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "kith.insights"
    label = "insights"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.core import worker
        from kith.insights import research_registry
        from kith.web import panels

        del research_registry  # imported for its registrations
        panels.register(
            "party",
            "insights.influence",
            "kith.insights.views.party_panel",
            column="side",
            order=70,
        )
        # Ties decay by the day: recompute the graph once a day.
        worker.periodic("insights.influence", every_seconds=24 * 3600)(_nightly_influence)
        from kith.insights import value_setup

        value_setup.setup()  # customer value: person panel, idea ranking, nightly run


def _nightly_influence() -> None:
    from kith.core.errors import Conflict
    from kith.insights import services

    with contextlib.suppress(Conflict):  # one is already queued or running
        services.request_influence_run(actor=None)
