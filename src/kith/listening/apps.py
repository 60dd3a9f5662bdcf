from django.apps import AppConfig


def _refresh_priorities() -> None:
    from kith.listening import services

    services.refresh_priorities()


def _poll_sources() -> None:
    from kith.listening import polling

    polling.run_periodic()


def _consume_stream() -> None:
    from kith.listening import streams

    if streams.enabled():
        streams.consume_available(consumer=streams.default_consumer_name())


def _check_spikes() -> None:
    from kith.listening import alerts

    alerts.check_spikes()


class ListeningConfig(AppConfig):
    name = "kith.listening"
    label = "listening"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kith.core import worker
        from kith.interactions.access import register_mirror
        from kith.listening import access

        # A mention on a person's timeline is shown to whoever may see the mention.
        register_mirror("listening.mention", access.mirror_scope)
        worker.periodic("listening.refresh_priorities", every_seconds=600)(_refresh_priorities)
        # With REDIS_URL set, each worker also drains the ingest stream (a consumer of
        # the group); without it the job does nothing and ingest runs where it is called.
        worker.periodic("listening.consume_stream", every_seconds=5)(_consume_stream)
        # Feeds, Mastodon and the internal kinds: each source on its own schedule
        # (kith.listening.polling); the job only looks for sources that are due.
        worker.periodic("listening.poll_sources", every_seconds=15)(_poll_sources)
        # Spike alerts look at the last full hour; a run every 10 minutes notices a spike
        # soon after its hour ends, and a second run in the same hour finds it recorded.
        worker.periodic("listening.alerts", every_seconds=600)(_check_spikes)

        # live and subscribers register their event subscribers on import.
        from kith.listening import live, subscribers  # noqa: F401
        from kith.web import panels

        panels.register("party", "listening.mentions", "kith.listening.views.party_panel", order=60)
