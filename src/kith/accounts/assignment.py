"""Who may set the fields that hand a record to someone (mass-assignment rules).

A write schema that accepts ``owner``, ``team``, ``assignee``, ``organizer`` or a
``follower`` lets a caller give a record to, or open it to, someone else. Which role
may do that is decided here, once, and enforced by the *services* (not only the
views or forms), so the API, the web UI, imports and tasks cannot differ.

| field (where) | admin, manager | agent | viewer, customer |
|---|---|---|---|
| ``owner`` of a person, organisation or deal | any active staff user, or none | themselves only; and only on a record that is theirs or has no owner | — (they cannot write) |
| ``team`` of a person, organisation or deal | any team | a team they are a member of | — |
| ``visibility`` | any | any, with the two rules above (``private`` hides a record from everyone but its owner, so an agent makes private only what they own) | — |
| ``assignee`` of a case | any active staff user | themselves, or an agent of the case's queue | — |
| ``assignee`` of an activity | any active staff user | any active staff user (delegating a to-do is ordinary work) — never a portal login | — |
| ``organizer`` of a meeting | any active staff user | themselves only | — |
| attendee logins of a meeting | active staff users | active staff users | — |
| ``follower`` other than oneself (a feed invitation) | a staff colleague who may see the record, or a customer/partner (this grants them the record's public posts) | a staff colleague who may see the record; never a customer or partner | — |
| API tokens | their own (admins also for others) | their own | viewers their own; customers none: 404, the staff API is not theirs |

Refusals are ``Forbidden`` (403) naming the field; a value that is not a staff user at
all (a customer's login as an owner) is ``ValidationFailed`` (422).
"""

from __future__ import annotations

from typing import Any

from kith.core.errors import FieldError, Forbidden, NotFound, ValidationFailed


def _sees_everything(actor) -> bool:
    return bool(getattr(actor, "sees_everything", False))


def _is_staff(user) -> bool:
    return bool(getattr(user, "is_staff_user", False))


def _team_ids(actor) -> frozenset[int]:
    return actor.team_ids() if getattr(actor, "pk", None) else frozenset()


def may_give_to_anyone(actor) -> bool:
    """Whether ``actor`` may make anyone the owner, or leave a record with none (admins,
    managers and the system); forms ask this before offering "No owner"."""
    return actor is None or _sees_everything(actor)


def check_owner(actor, owner, *, current_owner_id: int | None = None, field: str = "owner") -> None:
    """Raise unless ``actor`` may make ``owner`` the owner (None: no owner).

    ``current_owner_id`` is the record's owner before the change (None on create).
    ``actor`` None is the system (imports, demo, migrations): allowed.
    """
    if owner is not None and not _is_staff(owner):
        raise ValidationFailed.single(field, "Must be an active staff user.")
    if may_give_to_anyone(actor):
        return
    if owner is None or owner.pk != actor.pk:
        raise Forbidden(
            "Only admins and managers can give a record to someone else.",
            errors=[FieldError(field, "You can only set yourself as the owner.")],
        )
    if current_owner_id is not None and current_owner_id != actor.pk:
        raise Forbidden(
            "Only admins and managers can take over another user's record.",
            errors=[FieldError(field, "This record belongs to another user.")],
        )


def check_team(actor, team, *, field: str = "team") -> None:
    """Raise unless ``actor`` may put a record in ``team`` (None: no team)."""
    if team is None or actor is None or _sees_everything(actor):
        return
    if team.pk not in _team_ids(actor):
        raise Forbidden(
            "You can only use a team you are a member of.",
            errors=[FieldError(field, "You are not a member of this team.")],
        )


def check_visibility(actor, visibility: str | None, *, owner_id: int | None) -> None:
    """Raise unless ``actor`` may make a record owned by ``owner_id`` private."""
    if visibility != "private" or actor is None or _sees_everything(actor):
        return
    if owner_id != getattr(actor, "pk", None):
        raise Forbidden(
            "Only a record's owner, an admin or a manager can make it private.",
            errors=[FieldError("visibility", "Make yourself the owner first.")],
        )


def check_record_hand_over(
    actor,
    *,
    owner: Any = ...,
    team: Any = ...,
    visibility: str | None = None,
    current_owner_id: int | None = None,
    creating: bool,
) -> None:
    """Owner, team and visibility of a person, organisation or deal, by the rules above.

    ``...`` (the default) means the field is not being set. On create an unset owner
    defaults to the actor, which is always allowed.
    """
    if owner is not ...:
        check_owner(actor, owner, current_owner_id=None if creating else current_owner_id)
        final_owner_id = getattr(owner, "pk", None)
    else:
        final_owner_id = getattr(actor, "pk", None) if creating else current_owner_id
    if team is not ...:
        check_team(actor, team)
    check_visibility(actor, visibility, owner_id=final_owner_id)


def check_assignee(
    actor, assignee, *, field: str = "assignee", allowed_ids: set[int] | None = None
):
    """Raise unless ``actor`` may assign work to ``assignee`` (None: unassigned).

    ``allowed_ids`` narrows what an agent may pick (the agents of a case's queue);
    the actor themselves is always allowed, admins and managers pick any staff user.
    """
    if assignee is None:
        return
    if not _is_staff(assignee):
        raise ValidationFailed.single(field, "Must be an active staff user.")
    if actor is None or _sees_everything(actor) or assignee.pk == actor.pk:
        return
    if allowed_ids is not None and assignee.pk not in allowed_ids:
        raise Forbidden(
            "You can assign this only to yourself or a colleague of its queue.",
            errors=[FieldError(field, "Not an agent of this queue.")],
        )


def check_organizer(actor, organizer, *, field: str = "organizer") -> None:
    """Raise unless ``actor`` may name ``organizer`` as a meeting's organiser."""
    if organizer is None:
        return
    if not _is_staff(organizer):
        raise ValidationFailed.single(field, "Must be an active staff user.")
    if actor is None or _sees_everything(actor) or organizer.pk == actor.pk:
        return
    raise Forbidden(
        "Only admins and managers can organise a meeting in someone else's name.",
        errors=[FieldError(field, "You can only organise meetings yourself.")],
    )


def check_external_follower(actor, follower, *, field: str = "follower") -> None:
    """Raise unless ``actor`` may open a record's feed to a customer or partner."""
    if actor is None or _sees_everything(actor):
        return
    if getattr(follower, "is_portal", False):
        raise Forbidden(
            "Only admins and managers can invite a customer or partner to a record's feed.",
            errors=[FieldError(field, "Customers and partners are invited by a manager.")],
        )


def check_token_holder(actor, user) -> None:
    """Raise unless an API token may be issued to ``user`` by ``actor``.

    Customers (portal logins) get no tokens: the API is the staff API.
    """
    if getattr(user, "is_portal", False):
        # The token endpoints are part of the staff API, which a customer cannot see.
        raise NotFound("Not found.")
    if not getattr(user, "is_active", False):
        raise ValidationFailed.single("user", "That login is not active.")
    if (
        actor is not None
        and getattr(actor, "pk", None) != user.pk
        and not (_is_staff(actor) and actor.role == "admin")
    ):
        raise Forbidden("You can only issue tokens for yourself.")
