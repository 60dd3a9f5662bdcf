from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "kith.people"
    label = "people"

    def ready(self) -> None:
        from kith.core import worker

        # A person's company in the search index is their *current* employer: roles that
        # began or ended with the passing of a day need the index rebuilt once a day.
        worker.periodic("people.reindex", every_seconds=24 * 3600, bulk=True)(_reindex)
        # A killed `kith import` (or a dead worker) leaves its job running; mark it stale.
        worker.periodic("people.stale_imports", every_seconds=60)(_mark_stale_imports)
        # Identity resolution: its worker subscribers and the merge receiver (no Splink
        # import here), and a weekly retrain on the grown table and new staff decisions.
        from kith.people.identity import tasks as _identity_tasks  # noqa: F401

        worker.periodic("people.identity_retrain", every_seconds=7 * 24 * 3600)(_retrain)
        from django.conf import settings

        # In the bulk worker where one runs: scoring is CPU-bound and publishes nothing.
        worker.periodic(
            "people.identity_score_new",
            every_seconds=settings.KITH_IDENTITY_SCORE_SECONDS,
            bulk=True,
        )(_score_queued)
        # The scoring libraries and the model load when the worker starts, not on the
        # first create after it (about 2 s of CPU).
        worker.warm_up("people.identity_model", bulk=True)(_preload_identity_model)
        # A merge's undo record copies rows of both people: erased with them, not exported
        # twice (the rows themselves are in the export).
        from kith.cmr import erasure, registry

        registry.register_excluded(
            "people.MergeRecord",
            "A copy of rows already in the export, kept only to undo a recent merge.",
        )
        erasure.register_erasure("people.MergeRecord", "keep", "absorb", delete=True)
        registry.register_excluded(
            "people.PendingIdentityScore",
            "A work queue holding only the person's id until the worker scores them.",
        )
        erasure.register_erasure("people.PendingIdentityScore", "party", delete=True)
        registry.register_excluded(
            "people.IdentityKey",
            "Hashes of the record's own names, dates and contacts, for finding duplicates.",
        )
        erasure.register_erasure("people.IdentityKey", "party", delete=True)


def _reindex() -> None:
    from kith.people import search

    search.reindex_all()


def _mark_stale_imports() -> None:
    from kith.people import importing

    importing.mark_stale_jobs()


def _preload_identity_model() -> None:
    from kith.people.identity import service

    service.preload_active_model()


def _score_queued() -> None:
    from kith.core import worker
    from kith.people.identity import service

    # A backlog (a large import) is scored batch by batch; the events that arrive
    # meanwhile are delivered between batches rather than after the whole backlog.
    service.score_queued(between=worker.yield_to_events)


def _retrain() -> None:
    import contextlib

    from kith.core.errors import Conflict
    from kith.people.identity import service

    # One already queued or running is enough.
    with contextlib.suppress(Conflict):
        service.request_training(actor=None)
