"""App config: wires kith.work to people merges."""

from django.apps import AppConfig


class WorkConfig(AppConfig):
    name = "kith.work"
    label = "work"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.interactions.access import register_mirror
        from kith.people.merging import party_merged
        from kith.web import panels
        from kith.work import signals

        party_merged.connect(signals.move_work_on_merge, dispatch_uid="kith.work.merge")
        # Open activities about a person or organisation, on their page.
        panels.register(
            "party", "work.activities", "kith.work.views.party_panel", column="side", order=30
        )
        # Done activities and meetings on timelines show only to who sees them.
        register_mirror("work.activity", _visible_activities)
        register_mirror("work.meeting", _visible_meetings)


def _sees_all(user) -> bool:
    return bool(getattr(user, "is_staff_user", False) and getattr(user, "sees_everything", False))


def _visible_activities(user):
    """Activities ``user`` may see (None: all), for interactions mirroring one."""
    from kith.work import access

    return None if _sees_all(user) else access.scope_activities(user)


def _visible_meetings(user):
    """Meetings ``user`` may see (None: all), for interactions mirroring one."""
    from kith.work import access

    return None if _sees_all(user) else access.scope_meetings(user)
