from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kith.accounts"
    label = "accounts"

    def ready(self) -> None:
        from kith.core import worker

        # Sign-ups nobody verified expire with their link; their rows (and the password
        # hashes in them) go within the hour after.
        worker.periodic("accounts.purge_signups", every_seconds=3600)(_purge_signups)


def _purge_signups() -> None:
    import logging

    from kith.accounts.services import purge_expired_signups

    deleted = purge_expired_signups()
    if deleted:
        logging.getLogger("kith.accounts").info("purged %d expired portal sign-ups", deleted)
