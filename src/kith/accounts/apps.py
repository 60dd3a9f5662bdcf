from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kith.accounts"
    label = "accounts"

    def ready(self) -> None:
        from kith.core import worker

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


def _purge_signups() -> None:
    import logging

    from kith.accounts.services import purge_expired_signups

    deleted = purge_expired_signups()
    if deleted:
        logging.getLogger("kith.accounts").info("purged %d expired portal sign-ups", deleted)
