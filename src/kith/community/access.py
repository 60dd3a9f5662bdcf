"""Who may see and do what in the community.

Audiences of a space:

* ``public`` — everyone, anonymous visitors included;
* ``customers`` — portal users whose Person currently holds the ``customer`` role
  (kith.people relationships decide, not a flag on the login), and staff;
* ``partners`` — portal users whose Person currently holds the ``partner`` role, and staff;
* ``group`` — active members of the space's collab group (and admins/managers);
* ``staff`` — staff logins only.

A space, topic or post the user may not see is *not found* (404), never forbidden, so
ids cannot be probed. Writing needs a login; staff viewers read only.

Privileges (vote up, vote down, comment everywhere, flag, edit others' posts, close,
moderate) are earned: reputation at least the space's threshold *and* trust level at
least the threshold's level. Staff with a writing role hold all of them. Because trust
levels are recomputed up and down, a demoted member loses what the level gave.
"""

from __future__ import annotations

import uuid

from django.db.models import Exists, Q, QuerySet

from kith.core.errors import Forbidden, NotAuthenticated, NotFound

from .models import MemberProfile, Post, Space, Topic


def is_logged_in(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.is_active


def is_staff(user) -> bool:
    return is_logged_in(user) and not user.is_portal


def is_staff_writer(user) -> bool:
    return is_staff(user) and user.can_write


class _HeldRole:
    """A role ``user``'s Person holds today, still to be read: the spaces of its
    audience are visible when the rows exist."""

    def __init__(self, user, role: str) -> None:
        from kith.people.models import Relationship

        self.rows = Relationship.objects.current().filter(
            subject_id=user.person_id, role__slug=role
        )

    def space_condition(self) -> Q:
        return Q(Exists(self.rows))

    def holds_for(self, space: Space) -> bool:
        return self.rows.exists()


class _MemberOf:
    """The groups ``user`` is an active member of (those read earlier in the request,
    else the memberships to read): a group space is visible when its group is one."""

    def __init__(self, user, known: list[int] | None = None) -> None:
        from kith.collab.models import Membership

        self.known = known
        self.groups: QuerySet | None = None
        if known is None:
            self.groups = Membership.objects.filter(
                user=user, status=Membership.Status.ACTIVE
            ).values("group_id")

    def space_condition(self) -> Q:
        return Q(group_id__in=self.known if self.groups is None else self.groups)

    def holds_for(self, space: Space) -> bool:
        if space.group_id is None:
            return False
        if self.groups is None:
            return space.group_id in (self.known or [])
        return self.groups.filter(group_id=space.group_id).exists()


def _role_condition(user, role: str) -> bool | _HeldRole:
    """Whether ``user``'s Person holds ``role`` today: the roles read earlier in the
    request when there, else the rows to ask."""
    held = getattr(user, "_community_roles", None)
    if held is not None:
        return role in held
    return _HeldRole(user, role)


def _group_condition(user) -> bool | _MemberOf:
    """The groups whose spaces ``user`` sees (False: none, known already)."""
    known = getattr(user, "_collab_group_ids", None)
    if known is not None and not known:
        return False
    return _MemberOf(user, known)


# The audiences a portal user reaches through a role their Person holds.
_ROLE_OF_AUDIENCE = {Space.Audience.CUSTOMERS: "customer", Space.Audience.PARTNERS: "partner"}
_STAFF_AUDIENCES = (Space.Audience.CUSTOMERS, Space.Audience.PARTNERS, Space.Audience.STAFF)
_RESTRICTED_AUDIENCES = [a for a in Space.Audience.values if a != Space.Audience.PUBLIC]


def _audience_rule(user, audience: str) -> bool | _HeldRole | _MemberOf:
    """Whether ``user`` sees the spaces of ``audience`` (archiving and admins' view of
    everything aside): True or False when that needs no query, else the roles or
    memberships that decide it.

    The one statement of the rule: ``space_filter`` (every space) and ``may_see_space``
    (one space) are both made from it."""
    if audience == Space.Audience.PUBLIC:
        return True
    if not is_logged_in(user):
        return False
    if audience == Space.Audience.GROUP:
        return _group_condition(user)
    if is_staff(user):
        return audience in _STAFF_AUDIENCES
    role = _ROLE_OF_AUDIENCE.get(audience)
    if role is None or not user.person_id:
        return False
    return _role_condition(user, role)


def space_filter(user) -> Q | None:
    """A Q limiting spaces to those ``user`` may see; None means every space.

    Roles and group memberships are subqueries, so the visible spaces are one
    statement (a topic page reads them on every request)."""
    if is_staff(user) and user.sees_everything:
        return None
    condition = Q(audience=Space.Audience.PUBLIC)
    for audience in _RESTRICTED_AUDIENCES:
        rule = _audience_rule(user, audience)
        if rule is True:
            condition |= Q(audience=audience)
        elif rule is not False:
            condition |= Q(audience=audience) & rule.space_condition()
    return condition


def may_see_space(user, space: Space) -> bool:
    """Whether ``user`` may see ``space``: ``space_filter``'s rule for this one space.

    A vote (the hottest write) asks this of the post's space. Listing every visible
    space cost a statement whose conditions took longer to build than to run; here a
    public space (or a staff audience) needs no query, a customers', partners' or group
    space one small one on the user's roles or memberships."""
    if space.archived_at is not None:
        return False
    known = getattr(user, "_community_space_ids", None)
    if known is not None:
        return space.pk in known
    if is_staff(user) and user.sees_everything:
        return True
    rule = _audience_rule(user, space.audience)
    if isinstance(rule, bool):
        return rule
    return rule.holds_for(space)


def scope_spaces(user, qs: QuerySet | None = None) -> QuerySet:
    qs = Space.objects.filter(archived_at__isnull=True) if qs is None else qs
    condition = space_filter(user)
    return qs if condition is None else qs.filter(condition)


def visible_space_ids(user) -> list[int]:
    cached = getattr(user, "_community_space_ids", None) if user is not None else None
    if cached is None:
        cached = list(scope_spaces(user).values_list("id", flat=True))
        if is_logged_in(user):
            user._community_space_ids = cached
    return cached


def can_moderate_anywhere(user) -> bool:
    return is_staff_writer(user)


def scope_topics(user, qs: QuerySet | None = None) -> QuerySet:
    """Topics in spaces the user sees; deleted, merged and hidden ones only for moderators."""
    qs = Topic.objects.all() if qs is None else qs
    qs = qs.filter(space_id__in=visible_space_ids(user))
    if not can_moderate_anywhere(user):
        qs = qs.filter(deleted_at__isnull=True)
        hidden_ok = Q(hidden_at__isnull=True)
        if is_logged_in(user):
            hidden_ok |= Q(author=user)
        qs = qs.filter(hidden_ok)
    return qs


def scope_posts(user, topic: Topic, qs: QuerySet | None = None) -> QuerySet:
    """The posts ``user`` may read (of ``topic``, or of ``qs``): moderators read all;
    others no deleted post, and no hidden one unless they wrote it (as ``get_post``).
    Whatever mirrors a post (timelines, listening) goes through this rule too."""
    qs = Post.objects.filter(topic=topic) if qs is None else qs
    if not can_moderate_anywhere(user):
        visible = Q(hidden_at__isnull=True)
        if is_logged_in(user):
            visible |= Q(author=user)
        qs = qs.filter(visible, deleted_at__isnull=True)
    return qs


def _uuid(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound("Not found.") from exc


def get_space(user, ref) -> Space:
    """A space by public id or slug, or NotFound when it does not exist for ``user``."""
    qs = scope_spaces(user)
    try:
        found = qs.filter(public_id=uuid.UUID(str(ref))).first()
    except ValueError:
        found = qs.filter(slug=str(ref)[:80]).first()
    if found is None:
        raise NotFound("No such space.")
    return found


def get_topic(user, public_id) -> Topic:
    found = (
        scope_topics(user)
        .select_related("space", "author", "accepted_answer")
        .filter(public_id=_uuid(public_id))
        .first()
    )
    if found is None:
        raise NotFound("No such topic.")
    return found


def get_post(user, public_id, *, with_author: bool = True) -> Post:
    """A post by public id with its topic and space (and author, unless the caller
    shows none: a vote), or NotFound when ``user`` may not see it."""
    related = ("topic", "topic__space", "author") if with_author else ("topic", "topic__space")
    found = Post.objects.select_related(*related).filter(public_id=_uuid(public_id)).first()
    if found is None or not may_see_space(user, found.topic.space):
        raise NotFound("No such post.")
    topic = found.topic
    if not can_moderate_anywhere(user):
        mine = is_logged_in(user) and found.author_id == user.pk
        # A deleted post (by its author, or removed by a moderator) is gone for everyone
        # but moderators, as on the topic page (``queries.topic_page``).
        if found.deleted_at is not None:
            raise NotFound("No such post.")
        if topic.deleted_at is not None or (found.hidden_at is not None and not mine):
            raise NotFound("No such post.")
        if topic.hidden_at is not None and not (is_logged_in(user) and topic.author_id == user.pk):
            raise NotFound("No such post.")
    return found


# ---------------------------------------------------------------- writing and privileges


def require_participant(user) -> None:
    """Any portal user, or staff with a writing role."""
    if not is_logged_in(user):
        raise NotAuthenticated("Log in to take part.")
    if is_staff(user) and not user.can_write:
        raise Forbidden("Your role can read the community but not write in it.")


def profile_of(user) -> MemberProfile:
    profile = getattr(user, "_community_profile", None)
    if profile is None:
        profile, _ = MemberProfile.objects.get_or_create(user=user)
        user._community_profile = profile
    return profile


def has_privilege(user, space: Space, name: str, *, profile: MemberProfile | None = None) -> bool:
    if not is_logged_in(user):
        return False
    if is_staff(user):
        return user.can_write
    profile = profile or profile_of(user)
    need = space.privilege(name)
    return profile.reputation >= int(need.get("reputation", 0)) and profile.trust_level >= int(
        need.get("trust_level", 0)
    )


def require_privilege(user, space: Space, name: str, *, profile: MemberProfile | None = None):
    require_participant(user)
    if not has_privilege(user, space, name, profile=profile):
        need = space.privilege(name)
        raise Forbidden(
            f"You need {need.get('reputation', 0)} reputation and trust level "
            f"{need.get('trust_level', 0)} to {name.replace('_', ' ')} here."
        )


def is_moderator(user, space: Space) -> bool:
    return is_staff_writer(user) or has_privilege(user, space, "moderate")


def require_moderator(user, space: Space) -> None:
    require_participant(user)
    if not is_moderator(user, space):
        raise Forbidden("Only moderators may do this.")


def require_admin(user) -> None:
    if not is_staff(user):
        raise NotFound("Not found.")
    if user.role != "admin":
        raise Forbidden("Only admins may change community settings.")
