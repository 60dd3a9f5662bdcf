from django.apps import AppConfig


class ServiceConfig(AppConfig):
    name = "kith.service"
    label = "service"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.core import worker
        from kith.interactions.access import register_mirror
        from kith.people.merging import party_merged
        from kith.web import panels

        party_merged.connect(_move_cases, dispatch_uid="kith.service.merge")
        panels.register(
            "party", "service.cases", "kith.service.views.party_panel", column="main", order=30
        )
        # The worker's clocks: breaches are flagged within a minute of happening, and the
        # mailbox is read every minute when one is configured.
        worker.periodic("service.check_breaches", every_seconds=60)(_check_breaches)
        worker.periodic("service.poll_imap", every_seconds=60)(_poll_imap)
        # A case message or rating on the requester's timeline shows only to who sees the case.
        register_mirror("service.case", _visible_cases)


def _visible_cases(user):
    """Cases ``user`` may see (None: all), for interactions mirroring a case."""
    from kith.service import access

    return None if access.case_filter(user) is None else access.scope_cases(user)


def _check_breaches() -> None:
    from kith.service import tasks

    tasks.check_sla_breaches.call()


def _poll_imap() -> None:
    from django.conf import settings

    if settings.KITH_IMAP_URL:
        from kith.service import tasks

        tasks.poll_imap.call()


def _move_cases(sender, *, keep, absorb, **kwargs) -> None:
    """A people merge hands the absorbed party's cases to the survivor."""
    from kith.service.services import move_party_references

    move_party_references(keep=keep, absorb=absorb)
