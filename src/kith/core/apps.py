from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kith.core"
    label = "core"
    verbose_name = "Kith core"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from kith.core import sqlite_checkpoint, timestamps, worker

        # Rows with dates Python cannot read (year 10000 on PostgreSQL) must not break lists.
        connection_created.connect(timestamps.install, dispatch_uid="kith.timestamps")
        connection_created.connect(
            sqlite_checkpoint.on_connection_created, dispatch_uid="kith.sqlite_checkpoint"
        )

        worker.periodic("core.consistency", every_seconds=24 * 3600)(_check_consistency)
        worker.periodic("core.trash_purge", every_seconds=3600)(_purge_trash)
        # The bulk share: up to 2 s of deletes must not hold up a mention's delivery.
        worker.periodic("core.retention", every_seconds=60, bulk=True)(_prune)


def _check_consistency() -> None:
    """Daily: recompute the denormalised data and log any drift (``kith check`` reports it)."""
    from kith.core import consistency

    consistency.run_daily()


def _purge_trash() -> None:
    """Hourly: deleted records past their time in the trash go for good."""
    from kith.core import trash

    trash.purge_expired()


def _prune() -> None:
    """Every minute, for at most 2 s: delivered events, old idempotency keys, finished
    tasks and expired sessions past their time go (a busy day's events within a few runs)."""
    from kith.core import retention

    retention.prune()
