"""Who may see and start insights: staff read, managers and admins recompute.

Scores are about people, so every list is cut down to the people the user may see
(``kith.people.access.scope_parties``); customers (portal users) see no insights.
"""

from __future__ import annotations

from django.db.models import QuerySet

from kith.core.errors import Forbidden, NotAuthenticated, NotFound
from kith.people import access as people_access


def is_staff(user) -> bool:
    return (
        bool(getattr(user, "is_authenticated", False))
        and user.is_active
        and bool(getattr(user, "is_staff_user", False))
    )


def require_staff(user) -> None:
    """Staff only; anyone else is told nothing exists here."""
    if not getattr(user, "is_authenticated", False):
        raise NotAuthenticated()
    if not is_staff(user):
        raise NotFound()


def can_recompute(user) -> bool:
    return is_staff(user) and bool(getattr(user, "sees_everything", False))


def require_recompute(user) -> None:
    require_staff(user)
    if not can_recompute(user):
        raise Forbidden("Only managers and admins may recompute the influence graph.")


def visible_party_ids(user) -> QuerySet:
    """The ids of the parties ``user`` may see, as a subquery for scores."""
    return people_access.scope_parties(user).values("id")


def can_research_write(user) -> bool:
    """Draw panels, write surveys, invite: staff who may write (not viewers)."""
    return is_staff(user) and bool(getattr(user, "can_write", False))


def require_research_write(user) -> None:
    require_staff(user)
    if not can_research_write(user):
        raise Forbidden("Viewers may read research results but not run panels or surveys.")
