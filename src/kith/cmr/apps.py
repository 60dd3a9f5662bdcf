from django.apps import AppConfig


class CmrConfig(AppConfig):
    name = "kith.cmr"
    label = "cmr"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.web import panels

        panels.register(
            "party", "cmr.consent", "kith.cmr.views.party_panel", column="side", order=75
        )
        panels.register("party", "cmr.trust", "kith.cmr.views.trust_panel", column="side", order=76)
        panels.register(
            "party", "cmr.intents", "kith.cmr.views.intents_panel", column="side", order=77
        )

        from kith.core import worker

        from . import intents, terms

        worker.periodic("cmr.expire_intents", every_seconds=600)(intents.expire_due)
        worker.periodic("cmr.terms_inactivity_sweep", every_seconds=24 * 3600)(
            terms.inactivity_sweep
        )
