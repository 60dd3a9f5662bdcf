"""Background work for the community: trust levels recomputed from recent activity."""

from __future__ import annotations

from django_tasks import task


@task()
def recompute_trust_levels() -> int:
    """Promote and demote every member to the level their rolling-window activity earns."""
    from . import services

    return services.recompute_trust_levels()
