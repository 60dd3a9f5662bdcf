from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kith.core"
    label = "core"
    verbose_name = "Kith core"

    def ready(self) -> None:
        from kith.core import worker

        worker.periodic("core.consistency", every_seconds=24 * 3600)(_check_consistency)


def _check_consistency() -> None:
    """Daily: recompute the denormalised data and log any drift (``kith check`` reports it)."""
    from kith.core import consistency

    consistency.run_daily()
