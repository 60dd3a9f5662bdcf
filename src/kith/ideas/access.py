"""Who may see and do what in the idea portal.

* Reading: staff (every role) and portal customers; anonymous visitors only when the
  portal is public (``KITH_PORTAL_PUBLIC``). Anyone else gets *not found*, never
  *forbidden*, so nothing can be probed.
* Proposing, voting, commenting, following: portal customers and staff with a writing
  role.
* Triage (status changes, merges, credits, links to deals and cases, categories): staff
  with a writing role; categories: admins.
* Customers see only the public fields (``kith.ideas.api.idea_public_out``); links to
  deals and cases and the value at stake are for staff, and each link only when the
  reader may see the deal or case itself.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db.models import QuerySet

from kith.core.errors import Forbidden, NotAuthenticated, NotFound

from .models import Category, Idea, IdeaComment, IdeaLink, IdeaVote


def is_logged_in(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.is_active


def is_staff(user) -> bool:
    return is_logged_in(user) and not user.is_portal


def is_staff_writer(user) -> bool:
    return is_staff(user) and user.can_write


def can_read(user) -> bool:
    if is_logged_in(user):
        return True
    return bool(getattr(settings, "KITH_PORTAL_PUBLIC", False))


def require_reader(user) -> None:
    if not can_read(user):
        # The idea portal does not exist for anonymous visitors of a private portal.
        raise NotFound("Not found.")


def require_participant(user) -> None:
    """Portal customers and staff who write."""
    if not is_logged_in(user):
        raise NotAuthenticated("Log in to take part.")
    if is_staff(user) and not user.can_write:
        raise Forbidden("Your role can read ideas but not take part.")


def require_triage(user) -> None:
    """Status changes, merges, credits and links: staff with a writing role."""
    if not is_logged_in(user):
        raise NotAuthenticated("Log in first.")
    if not is_staff(user):
        raise NotFound("Not found.")
    if not user.can_write:
        raise Forbidden("Your role can read ideas but not change them.")


def require_admin(user) -> None:
    require_triage(user)
    if user.role != "admin":
        raise Forbidden("Only admins may change idea categories.")


def scope_ideas(user, qs: QuerySet | None = None) -> QuerySet:
    """Every idea for anyone who may read the portal; nothing otherwise."""
    qs = Idea.objects.all() if qs is None else qs
    return qs if can_read(user) else qs.none()


def scope_categories(user) -> QuerySet:
    qs = Category.objects.all()
    if not is_staff(user):
        qs = qs.filter(archived=False)
    return qs if can_read(user) else qs.none()


def _uuid(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound("No such idea.") from exc


def get_idea(user, public_id) -> Idea:
    found = (
        scope_ideas(user)
        .select_related("category", "author", "merged_into")
        .filter(public_id=_uuid(public_id))
        .first()
    )
    if found is None:
        raise NotFound("No such idea.")
    return found


def get_category(user, ref) -> Category:
    """A category by public id or slug, or NotFound."""
    qs = scope_categories(user)
    try:
        found = qs.filter(public_id=uuid.UUID(str(ref))).first()
    except ValueError:
        found = qs.filter(slug=str(ref)[:80]).first()
    if found is None:
        raise NotFound("No such category.")
    return found


def visible_links(user, idea: Idea) -> list[IdeaLink]:
    """The idea's links to deals and cases the reader may see (staff only)."""
    if not is_staff(user):
        return []
    from kith.sales.access import scope_deals
    from kith.service.access import scope_cases

    links = list(IdeaLink.objects.filter(idea=idea).select_related("deal", "deal__stage", "case"))
    deal_ids = {link.deal_id for link in links if link.deal_id}
    case_ids = {link.case_id for link in links if link.case_id}
    seen_deals = set(scope_deals(user).filter(pk__in=deal_ids).values_list("pk", flat=True))
    seen_cases = set(scope_cases(user).filter(pk__in=case_ids).values_list("pk", flat=True))
    return [
        link
        for link in links
        if (link.deal_id and link.deal_id in seen_deals)
        or (link.case_id and link.case_id in seen_cases)
    ]


# Mirrors: interactions pointing at ideas, votes and comments obey the idea's visibility.


def mirror_ideas(user) -> QuerySet:
    return scope_ideas(user)


def mirror_votes(user) -> QuerySet:
    return IdeaVote.objects.filter(idea__in=scope_ideas(user).values("pk"))


def mirror_comments(user) -> QuerySet:
    return IdeaComment.objects.filter(idea__in=scope_ideas(user).values("pk"))
