"""Who may see or change listening sources, keywords and mentions.

* every active staff user reads sources, keywords, mentions and the queue (what the
  company hears in public is shared knowledge inside it);
* agents, managers and admins work the queue (assign, reply, convert, dismiss, spam);
  viewers read only (403 on a change);
* admins and managers configure sources and keywords (others on staff: 403);
* portal users (customers) and anonymous callers get nothing: 404, never 403, so the
  listening endpoints do not even confirm they exist.

Mentions mirrored onto a person's timeline obey the same rule through
``kith.interactions.access.register_mirror`` (``ListeningConfig.ready``).
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from kith.accounts.models import Role
from kith.core.errors import Forbidden, NotFound
from kith.listening.models import Keyword, Mention, Source


def _parse(public_id, what: str) -> uuid.UUID:
    try:
        return public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound(f"No such {what}.") from exc


def is_staff(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_staff_user", False))


def require_staff(user) -> None:
    if not is_staff(user):
        raise NotFound("Not found.")


def can_configure(user) -> bool:
    return is_staff(user) and user.role in (Role.ADMIN, Role.MANAGER)


def require_configure(user) -> None:
    """Sources and keywords: admins and managers."""
    require_staff(user)
    if not can_configure(user):
        raise Forbidden("Only admins and managers configure listening.")


def can_work(user) -> bool:
    return is_staff(user) and bool(getattr(user, "can_write", False))


def require_work(user) -> None:
    """Queue actions: staff who write (not viewers)."""
    require_staff(user)
    if not can_work(user):
        raise Forbidden("Your role can read mentions but not work the queue.")


def scope_mentions(user, queryset: QuerySet | None = None) -> QuerySet:
    qs = Mention.objects.all() if queryset is None else queryset
    return qs if is_staff(user) else qs.none()


def mirror_scope(user) -> QuerySet | None:
    """For the timeline's mirror registry: every mention for staff, none for others."""
    return None if is_staff(user) else Mention.objects.none()


def scope_sources(user, queryset: QuerySet | None = None) -> QuerySet:
    qs = Source.objects.all() if queryset is None else queryset
    return qs if is_staff(user) else qs.none()


def get_mention(user, public_id) -> Mention:
    pid = _parse(public_id, "mention")
    found = (
        scope_mentions(user)
        .select_related("source", "person", "assignee", "duplicate_of")
        .filter(public_id=pid)
        .first()
    )
    if found is None:
        raise NotFound("No such mention.")
    return found


def get_mention_for_change(user, public_id) -> Mention:
    mention = get_mention(user, public_id)
    require_work(user)
    return mention


def get_source(user, public_id) -> Source:
    pid = _parse(public_id, "source")
    found = scope_sources(user).filter(public_id=pid).first()
    if found is None:
        raise NotFound("No such source.")
    return found


def get_source_for_change(user, public_id) -> Source:
    source = get_source(user, public_id)
    require_configure(user)
    return source


def get_keyword(user, public_id) -> Keyword:
    require_staff(user)
    pid = _parse(public_id, "keyword")
    found = Keyword.objects.filter(public_id=pid).first()
    if found is None:
        raise NotFound("No such keyword.")
    return found
