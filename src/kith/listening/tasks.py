"""Background work for listening, calling the services.

The periodic jobs (priority refresh, draining the Redis Stream) are registered in
``ListeningConfig.ready``; these tasks let other code ask for the same work now.
"""

from __future__ import annotations

from django_tasks import task

from kith.listening import services, streams


@task()
def refresh_priorities() -> int:
    """Refresh the shown 0–100 priority of open mentions (the queue order needs none)."""
    return services.refresh_priorities()


@task()
def drain_stream() -> int:
    """Ingest what waits on the Redis Stream (nothing to do without REDIS_URL)."""
    if not streams.enabled():
        return 0
    return streams.consume_available(consumer=streams.default_consumer_name())
