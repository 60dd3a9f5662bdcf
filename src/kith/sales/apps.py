"""The sales app: hooks into people (merge, record-page panel) once Django is ready."""

from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "kith.sales"
    label = "sales"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.interactions.access import register_mirror
        from kith.people.merging import party_merged
        from kith.web import panels

        party_merged.connect(_fold_contacts, dispatch_uid="kith.sales.fold_contacts")
        # The deals of a person or organisation, on their page (kith.people owns the page).
        panels.register(
            "party", "sales.deals", "kith.sales.views.party_panel", column="main", order=20
        )
        # "Deal won/lost" on its people's timelines shows only to who sees the deal.
        register_mirror("sales.deal", _visible_deals)


def _visible_deals(user):
    """Deals ``user`` may see (None: all), for interactions mirroring a deal."""
    from kith.sales import access

    return None if access.deal_filter(user) is None else access.scope_deals(user)


def _fold_contacts(sender, *, keep, absorb, **kwargs) -> None:
    """A merge moved the absorbed person's deal contacts to ``keep``: fold duplicates."""
    from kith.sales import services

    services.fold_merged_contacts(keep=keep)
