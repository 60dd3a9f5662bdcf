"""Who may read and write which feeds, posts, groups and follows.

Readers come in three kinds:

* **staff** see a record's feed when they may see the record (kith.people rules for
  people and organisations; for other models the owning app's ``access.get_<model>``,
  found by convention, or admins and managers only when the app has none);
* **partners** — portal users whose Person holds a current ``partner`` role — and
* **customers** — every other portal user — are *external*: they read only the feeds
  of their own Person, of groups they are active members of, and of records a staff
  member invited them to (an external Follow).

Post visibility then narrows: ``internal`` posts are never shown to external users,
``group`` posts only to active members of the post's group (and admins/managers),
``public`` posts to whoever may read the feed. Invisible things are *not found* (404);
read-only users get 403 when they try to write.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from kith.core.errors import Forbidden, NotFound
from kith.core.records import owning_app_getter
from kith.people.models import Party

from .models import Follow, Group, Membership, Post, Visibility

# URL kinds for the generic reference: /collab/feed/<kind>/<public_id>/.
KIND_ALIASES = {"person": "people.party", "organization": "people.party", "org": "people.party"}


# ---------------------------------------------------------------- who is the reader


def is_external(user) -> bool:
    return bool(getattr(user, "is_portal", False))


def is_partner(user) -> bool:
    """A portal user whose Person currently holds the ``partner`` role."""
    if not is_external(user) or not user.person_id:
        return False
    cached = getattr(user, "_collab_is_partner", None)
    if cached is None:
        cached = Party.objects.holding("partner").filter(pk=user.person_id).exists()
        user._collab_is_partner = cached
    return cached


def reader_kind(user) -> str:
    if not is_external(user):
        return "staff"
    return "partner" if is_partner(user) else "customer"


def require_login(user) -> None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise NotFound("Not found.")


def require_can_post(user) -> None:
    """Staff with a writing role, or any portal user (they post where they are invited)."""
    require_login(user)
    if not is_external(user) and not user.can_write:
        raise Forbidden("Your role can read feeds but not post.")


def active_group_ids(user) -> list[int]:
    cached = getattr(user, "_collab_group_ids", None)
    if cached is None:
        cached = list(
            Membership.objects.filter(user=user, status=Membership.Status.ACTIVE).values_list(
                "group_id", flat=True
            )
        )
        user._collab_group_ids = cached
    return cached


def forget(user) -> None:
    """Drop the per-request caches on ``user`` (after a membership change)."""
    for name in ("_collab_group_ids", "_collab_is_partner"):
        if hasattr(user, name):
            delattr(user, name)


# ---------------------------------------------------------------- targets


# Apps whose rows are not records with a feed (logins, the kernel's own tables).
NO_FEED_APPS = {"core", "accounts", "auth", "contenttypes", "sessions", "admin"}


def content_type_for(kind: str) -> ContentType:
    """The content type behind a URL kind; only Kith records with a public id have feeds."""
    label = KIND_ALIASES.get(kind, kind)
    if label == "group":
        label = "collab.group"
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError) as exc:
        raise NotFound("No such kind of record.") from exc
    meta = model._meta
    has_public_id = any(f.name == "public_id" for f in meta.fields)
    if (
        not model.__module__.startswith("kith.")
        or meta.app_label in NO_FEED_APPS
        or (meta.app_label == "collab" and model is not Group)
        or not has_public_id
    ):
        raise NotFound("No such kind of record.")
    return ContentType.objects.get_for_model(model)


def kind_of(obj: Model) -> str:
    """The URL kind of a record: person, organization, group or ``app_label.model``."""
    if isinstance(obj, Party):
        return obj.kind
    if isinstance(obj, Group):
        return "group"
    return obj._meta.label_lower


def _parse(public_id: Any) -> uuid.UUID:
    try:
        return public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("No such record.") from exc


def get_target(user, kind: str, public_id: Any) -> Model:
    """The record ``user`` may read the feed of, or NotFound."""
    require_login(user)
    pid = _parse(public_id)
    ct = content_type_for(kind)
    model = ct.model_class()
    if model is Party:
        party = Party.objects.filter(public_id=pid).first()
        if party is None or (kind in ("person", "organization") and party.kind != kind):
            raise NotFound("No such person or organisation.")
        if not can_read_feed(user, party):
            raise NotFound("No such person or organisation.")
        return party
    if model is Group:
        return get_group(user, pid)
    obj = model._default_manager.filter(public_id=pid).first()
    if obj is None or not can_read_feed(user, obj):
        raise NotFound("No such record.")
    return obj


def _invited(user, obj: Model) -> bool:
    ct = ContentType.objects.get_for_model(obj)
    return Follow.objects.filter(target_type=ct, target_id=obj.pk, follower=user).exists()


def can_read_feed(user, obj: Model) -> bool:
    """May ``user`` read (some of) the feed of ``obj``?"""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if isinstance(obj, Group):
        return can_see_group(user, obj)
    if is_external(user):
        if isinstance(obj, Party) and obj.pk == user.person_id:
            return True
        return _invited(user, obj)
    if isinstance(obj, Party):
        from kith.people import access as people_access

        return people_access.is_visible(user, obj)
    getter = owning_app_getter(type(obj))
    if getter is None:
        return bool(user.sees_everything)
    try:
        getter(user, obj.public_id)
    except NotFound:
        return False
    except Exception:  # a Moved or any other refusal: not readable here
        return False
    return True


def target_of(post: Post) -> Model | None:
    """The record a post is about (cached on the post by queries.attach_targets)."""
    if hasattr(post, "_target"):
        return post._target
    model = ContentType.objects.get_for_id(post.target_type_id).model_class()
    if model is None:
        return None
    return model._default_manager.filter(pk=post.target_id).first()


# ---------------------------------------------------------------- posts


def post_visible_q(user) -> Q | None:
    """The visibility part of post scoping for ``user`` (None: no limit)."""
    if not is_external(user) and user.sees_everything:
        return None
    groups = active_group_ids(user)
    group_ok = Q(visibility=Visibility.GROUP, group_id__in=groups)
    if is_external(user):
        return Q(visibility=Visibility.PUBLIC) | group_ok
    return ~Q(visibility=Visibility.GROUP) | group_ok


def scope_posts(user, qs: QuerySet | None = None) -> QuerySet:
    """Undeleted posts whose visibility lets ``user`` see them (the feed check is separate)."""
    qs = Post.objects.all() if qs is None else qs
    qs = qs.filter(deleted_at__isnull=True)
    condition = post_visible_q(user)
    return qs if condition is None else qs.filter(condition)


def can_see_post(user, post: Post, *, target: Model | None = None) -> bool:
    if post.deleted_at is not None or not getattr(user, "is_authenticated", False):
        return False
    if post.visibility == Visibility.INTERNAL and is_external(user):
        return False
    if post.visibility == Visibility.GROUP and not (
        post.group_id in active_group_ids(user) or user.sees_everything
    ):
        return False
    target = target if target is not None else target_of(post)
    return target is not None and can_read_feed(user, target)


def get_post(user, public_id: Any) -> Post:
    require_login(user)
    post = (
        Post.objects.select_related("author", "group", "target_type")
        .filter(public_id=_parse(public_id))
        .first()
    )
    if post is None or not can_see_post(user, post):
        raise NotFound("No such post.")
    return post


def can_post_on(user, target: Model, *, visibility: str, group: Group | None) -> None:
    """Raise unless ``user`` may post with ``visibility`` on ``target``'s feed."""
    require_can_post(user)
    if not can_read_feed(user, target):
        raise NotFound("No such record.")
    if is_external(user) and visibility == Visibility.INTERNAL:
        raise Forbidden("Customers and partners cannot write internal posts.")
    if isinstance(target, Group) and not is_member(user, target) and not user.sees_everything:
        raise Forbidden("Join the group to post in it.")
    if (
        group is not None
        and visibility == Visibility.GROUP
        and not is_member(user, group)
        and not user.sees_everything
    ):
        raise Forbidden("Only members can post to this group.")


def can_change_post(user, post: Post) -> bool:
    """Authors edit their own posts; admins and managers may also delete any post."""
    return post.author_id == user.pk


def can_delete_post(user, post) -> bool:
    return post.author_id == user.pk or bool(getattr(user, "sees_everything", False))


# ---------------------------------------------------------------- groups


def membership(user, group: Group) -> Membership | None:
    return Membership.objects.filter(group=group, user=user).first()


def is_member(user, group: Group) -> bool:
    return group.pk in active_group_ids(user)


def can_see_group(user, group: Group) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if not is_external(user) and (user.sees_everything or group.privacy != Group.Privacy.PRIVATE):
        return True
    # Private groups, and any group for customers and partners: members and invitees.
    return Membership.objects.filter(
        group=group,
        user=user,
        status__in=[Membership.Status.ACTIVE, Membership.Status.INVITED],
    ).exists()


def scope_groups(user, *, listed: bool = True) -> QuerySet:
    """Groups ``user`` may see; ``listed`` leaves out unlisted groups they are not in."""
    qs = Group.objects.filter(archived_at__isnull=True)
    mine = Membership.objects.filter(
        user=user, status__in=[Membership.Status.ACTIVE, Membership.Status.INVITED]
    ).values("group_id")
    if is_external(user):
        return qs.filter(pk__in=mine)
    if user.sees_everything and not listed:
        return qs
    shown = [Group.Privacy.PUBLIC] if listed else [Group.Privacy.PUBLIC, Group.Privacy.UNLISTED]
    if user.sees_everything:
        shown.append(Group.Privacy.PRIVATE)
    return qs.filter(Q(privacy__in=shown) | Q(pk__in=mine))


def get_group(user, public_id: Any) -> Group:
    require_login(user)
    group = Group.objects.filter(public_id=_parse(public_id)).first()
    if group is None or not can_see_group(user, group):
        raise NotFound("No such group.")
    return group


def can_manage_group(user, group: Group) -> bool:
    if is_external(user):
        return False
    if user.sees_everything:
        return True
    return Membership.objects.filter(
        group=group,
        user=user,
        status=Membership.Status.ACTIVE,
        role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
    ).exists()


def require_manage_group(user, group: Group) -> None:
    if not can_manage_group(user, group):
        raise Forbidden("Only the group's owners and admins can do this.")


def may_join(user, group: Group) -> str | None:
    """Why ``user`` may not be a member of ``group`` (None when they may)."""
    if not getattr(user, "is_active", False):
        return "That login is not active."
    if is_external(user):
        if group.kind == Group.Kind.INTERNAL:
            return "Internal groups are for staff only."
        if group.kind == Group.Kind.PARTNER and not is_partner(user):
            return "Partner groups are for staff and partners only."
    return None


# ---------------------------------------------------------------- in SQL, for mirrors


def readable_posts(user) -> QuerySet | None:
    """Posts ``user`` may read, as one queryset (None: all); ``can_see_post`` in SQL.

    Interactions mirroring a post or comment (a customer's post, a mention on the
    timeline of a person without a login) are shown through this (registered with
    ``kith.interactions.access.register_mirror``). Targets of other apps are checked
    through the same registry; a kind nobody registered is readable by admins and
    managers only, as ``can_read_feed`` does for an app without an access getter.
    """
    from kith.interactions.access import registered_mirrors
    from kith.people import access as people_access

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Post.objects.none()
    if not is_external(user) and user.sees_everything:
        return None
    party_ct = ContentType.objects.get_for_model(Party)
    group_ct = ContentType.objects.get_for_model(Group)
    mine = Membership.objects.filter(
        user=user, status__in=[Membership.Status.ACTIVE, Membership.Status.INVITED]
    ).values("group_id")
    if is_external(user):
        invited = Follow.objects.filter(
            target_type=OuterRef("target_type"), target_id=OuterRef("target_id"), follower=user
        )
        target_ok = (
            Q(target_type=group_ct, target_id__in=mine)
            | Q(Exists(invited))
            | (
                Q(target_type=party_ct, target_id=user.person_id)
                if user.person_id
                else Q(pk__in=[])
            )
        )
    else:
        groups = Group.objects.filter(
            Q(privacy__in=[Group.Privacy.PUBLIC, Group.Privacy.UNLISTED]) | Q(pk__in=mine)
        )
        target_ok = Q(
            target_type=party_ct, target_id__in=people_access.scope_parties(user).values("pk")
        ) | Q(target_type=group_ct, target_id__in=groups.values("pk"))
        for label, scope in registered_mirrors().items():
            if label.startswith("collab."):
                continue
            try:
                model = apps.get_model(label)
            except LookupError:
                continue
            sources = scope(user)
            ct = ContentType.objects.get_for_model(model)
            if sources is None:
                target_ok |= Q(target_type=ct)
            else:
                target_ok |= Q(target_type=ct, target_id__in=sources.values("pk"))
    return scope_posts(user).filter(target_ok)


def readable_comments(user) -> QuerySet | None:
    """Comments on posts ``user`` may read (None: all)."""
    from .models import Comment

    posts = readable_posts(user)
    if posts is None:
        return None
    return Comment.objects.filter(post__in=posts.values("pk"))


# ---------------------------------------------------------------- mentions


def mentionable_parties(author, parties: QuerySet) -> QuerySet:
    """The people and organisations among ``parties`` that ``author`` may name.

    Staff name who they may see (``kith.people.access``); a customer or partner only
    themselves. A mention of anything else renders as the text typed, unlinked.
    """
    from kith.people import access as people_access

    return people_access.scope_parties(author, parties)


def mentionable_users(author, users: QuerySet) -> list:
    """The logins among ``users`` that ``author`` may name (and so notify).

    Staff logins are nameable by any signed-in author (staff sign their replies and
    posts). A portal login is nameable by staff who may see its Person, and by a
    customer or partner only when it is their own or they share an active group.
    """
    from kith.people import access as people_access

    if not getattr(author, "is_authenticated", False) or not author.is_active:
        return []
    out = []
    portal = [u for u in users if u.is_portal]
    visible_people: set[int] = set()
    shared: set[int] = set()
    if portal and not is_external(author):
        visible_people = set(
            people_access.scope_parties(
                author, Party.objects.filter(pk__in=[u.person_id for u in portal if u.person_id])
            ).values_list("pk", flat=True)
        )
    if portal and is_external(author):
        shared = set(
            Membership.objects.filter(
                group_id__in=active_group_ids(author),
                user__in=[u.pk for u in portal],
                status=Membership.Status.ACTIVE,
            ).values_list("user_id", flat=True)
        )
    for u in users:
        if not u.is_portal or u.pk == author.pk:
            out.append(u)
        elif not is_external(author):
            if u.person_id in visible_people:
                out.append(u)
        elif u.pk in shared:
            out.append(u)
    return out
