"""Who may see or change listening sources, keywords and mentions.

* every active staff user reads sources, keywords, mentions and the queue (what the
  company hears in public is shared knowledge inside it);
* agents, managers and admins work the queue (assign, reply, convert, dismiss, spam);
  viewers read only (403 on a change);
* admins and managers configure sources and keywords (others on staff: 403);
* portal users (customers) and anonymous callers get nothing: 404, never 403, so the
  listening endpoints do not even confirm they exist.

Mentions of internal sources mirror records with access rules of their own (a community
post in a staff-only or group space, a customer's case e-mail): those follow the
record's rule, through the same registry the timeline uses (``mirror_condition``).
Mentions mirrored onto a person's timeline obey the same rule through
``kith.interactions.access.register_mirror`` (``ListeningConfig.ready``).

A mention's matched person is a record of the people app: every reader of the mention
sees it, but only a reader who may see that person (``kith.people.access``) is told who
it is (``shown_person``), and filtering by a person one may not see finds what an
unknown id finds (``person_condition``).
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet

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


# The records mentions of internal sources mirror (``Mention.related_type``).
MIRRORED_KINDS = ("community.post", "service.case")


def _content_type_id(label: str) -> int | None:
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    try:
        return ContentType.objects.get_for_model(apps.get_model(label)).pk
    except LookupError:
        return None


def _community_posts(user) -> QuerySet | None:
    """Community posts ``user`` may read, by the community app's own rules (its spaces'
    audiences and groups; hidden posts for moderators). None: every post."""
    from kith.community import access as community_access
    from kith.community.models import Post

    if is_staff(user) and user.sees_everything:
        return None
    topics = community_access.scope_topics(user)
    return community_access.scope_posts(user, None, Post.objects.filter(topic__in=topics))


# Used while the registry has no rule for the kind (the timeline then shows such
# mirrors to admins and managers only; a mention follows the owning app's own rule).
_OWN_RULES = {"community.post": _community_posts}


def mirror_condition(user) -> Q | None:
    """A Q keeping the mentions ``user`` may see of mirrored records; None: no limit.

    The timeline's rule (``kith.interactions.access``), applied to mentions: a mention
    that mirrors nothing passes; one mirroring a kind registered with
    ``register_mirror`` passes when the record is in that kind's scope for ``user``; a
    community post nobody registered follows the community app's own read rule
    (``_OWN_RULES``); any other unregistered kind passes for admins and managers only.
    """
    from kith.interactions.access import registered_mirrors

    if not is_staff(user):
        return Q(pk__in=[])
    registry = registered_mirrors()
    sees_everything = bool(getattr(user, "sees_everything", False))
    condition = Q(related_type__isnull=True)
    limited = False
    for label in MIRRORED_KINDS:
        ct_id = _content_type_id(label)
        if ct_id is None:
            continue
        scope = registry.get(label) or _OWN_RULES.get(label)
        if scope is None:
            if sees_everything:
                condition |= Q(related_type_id=ct_id)
            else:
                limited = True
            continue
        records = scope(user)
        if records is None:
            condition |= Q(related_type_id=ct_id)
            continue
        limited = True
        condition |= Q(related_type_id=ct_id, related_id__in=records.values("pk"))
    return condition if limited else None


def scope_mentions(user, queryset: QuerySet | None = None) -> QuerySet:
    """Mentions ``user`` may see: all for staff, less those mirroring a record they may
    not see (a staff-only community post, a case outside their queues)."""
    qs = Mention.objects.all() if queryset is None else queryset
    if not is_staff(user):
        return qs.none()
    condition = mirror_condition(user)
    return qs if condition is None else qs.filter(condition)


def mirror_scope(user) -> QuerySet | None:
    """For the timeline's mirror registry: the mentions ``user`` may see (None: all)."""
    if not is_staff(user):
        return Mention.objects.none()
    condition = mirror_condition(user)
    return None if condition is None else Mention.objects.filter(condition)


def shown_person(user, mention: Mention):
    """The person ``mention`` is matched to, if ``user`` may see that person; else None.

    Answered from the loaded party's visibility, owner and team (no query: the mention
    lists load those columns, see ``queries._RELATED_SHOWN``), so a page of rows costs
    no query per row.
    """
    from kith.people import access as people_access

    if not mention.person_id or not is_staff(user):
        return None
    person = mention.person
    return person if people_access.is_visible(user, person) else None


def person_condition(user, public_id: uuid.UUID) -> Q:
    """A Q keeping the mentions matched to the person ``public_id`` if ``user`` may see
    that person: a person they may not see matches nothing, as an unknown id does."""
    from kith.people import access as people_access

    return Q(person__in=people_access.staff_scope(user).filter(public_id=public_id))


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
