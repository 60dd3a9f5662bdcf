"""Background work for collaboration: big fan-outs and e-mail digests."""

from __future__ import annotations

from django_tasks import task

from .models import FeedItem, Post


@task()
def fan_out_post(post_id: int) -> int:
    """Write one post into every allowed reader's feed (audiences too big to do inline)."""
    from . import services

    post = Post.objects.filter(pk=post_id).first()
    if post is None:
        return 0
    mention_ids = set(
        FeedItem.objects.filter(post=post, mention=True).values_list("user_id", flat=True)
    )
    return services.fan_out(post, mention_ids=mention_ids)


@task()
def deliver_post(
    post_id: int,
    actor_id: int | None,
    verb: str,
    skip: list[int],
    mention_ids: list[int],
    event_name: str = "",
) -> dict[str, int]:
    """Notify the followers of a post with a big audience and write it into their feeds."""
    from . import services

    return services.deliver_post_now(
        post_id=post_id,
        actor_id=actor_id,
        verb=verb,
        skip=skip,
        mention_ids=mention_ids,
        event_name=event_name,
    )


@task()
def send_digests(mode: str = "daily") -> dict[str, int]:
    """Send e-mail digests to users who chose ``mode`` (daily by default)."""
    from . import services

    return services.send_digests(mode=mode)
