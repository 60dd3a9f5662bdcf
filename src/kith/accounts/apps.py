from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kith.accounts"
    label = "accounts"

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed, post_delete

        from kith.accounts.models import Team, User, teams_changed
        from kith.core import worker

        # Cached team ids (User.team_ids) are read again after any membership change,
        # whichever side made it (user.teams.add or team.members.add), and after a team
        # is deleted (its membership rows go with it, with no m2m signal).
        m2m_changed.connect(
            _on_membership_change, sender=User.teams.through, dispatch_uid="kith.accounts.teams"
        )
        post_delete.connect(
            lambda **kwargs: teams_changed(),
            sender=Team,
            weak=False,
            dispatch_uid="kith.accounts.team_deleted",
        )

        # Sign-ups nobody verified expire with their link; their rows (and the password
        # hashes in them) go within the hour after.
        worker.periodic("accounts.purge_signups", every_seconds=3600)(_purge_signups)

        from kith.cmr import erasure, registry

        # A staff invitation is about the invited login (its address): exported with it
        # and deleted on erasure. The workspace row points at the company, nobody's data.
        registry.register_export("accounts.Invitation", "user__person")
        erasure.register_erasure("accounts.Invitation", "user__person", delete=True)
        registry.register_excluded(
            "accounts.Workspace", "Workspace settings: the company's own record, no person's data."
        )
        erasure.register_kept(
            "accounts.Workspace", "Workspace settings: the company's own record, no person's data."
        )


def _on_membership_change(action: str, **kwargs) -> None:
    if action.startswith("post_"):
        from kith.accounts.models import teams_changed

        teams_changed()


def _purge_signups() -> None:
    import logging

    from kith.accounts.services import purge_expired_signups

    deleted = purge_expired_signups()
    if deleted:
        logging.getLogger("kith.accounts").info("purged %d expired portal sign-ups", deleted)
