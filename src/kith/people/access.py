"""Who may see or change people and organisations.

One place answers it for the API and the web UI alike:

* admins and managers see and change everything;
* agents see records visible to everyone, their team's records and their own private
  ones, and change what they see;
* viewers see what agents see and change nothing;
* portal users (customers) see only their own Person, and through the staff API and UI
  not even that: the portal pages come with their own access rules.

A record the user may not see is reported as *not found* (404), never as forbidden,
so ids cannot be probed.
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet
from django.urls import reverse

from kith.core.errors import Forbidden, Moved, NotFound
from kith.people.models import Party, Visibility


def visible_filter(user) -> Q | None:
    """A Q limiting parties to those ``user`` may see; None means no limit."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    if user.is_portal:
        return Q(pk=user.person_id) if user.person_id else Q(pk__in=[])
    if user.sees_everything:
        return None
    team_ids = user.team_ids()
    condition = Q(visibility=Visibility.EVERYONE) | Q(owner_id=user.pk)
    if team_ids:
        condition |= Q(visibility=Visibility.TEAM, team_id__in=team_ids)
    return condition


def is_visible(user, party: Party) -> bool:
    """``visible_filter`` answered for one party already loaded, without a query.

    Pages ask it of the same person many times over (every panel that offers an edit
    link); tests/people/test_visibility_twin.py checks it against the filter for every
    kind of user and record, so the two rules cannot drift apart.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_portal:
        return party.pk is not None and party.pk == user.person_id
    if user.sees_everything:
        return True
    if party.visibility == Visibility.EVERYONE or party.owner_id == user.pk:
        return True
    return party.visibility == Visibility.TEAM and party.team_id in user.team_ids()


def scope_parties(user, queryset: QuerySet | None = None) -> QuerySet:
    """Parties ``user`` may see (all statuses; callers filter ``active`` as they need)."""
    qs = Party.objects.all() if queryset is None else queryset
    condition = visible_filter(user)
    return qs if condition is None else qs.filter(condition)


def staff_scope(user, queryset: QuerySet | None = None) -> QuerySet:
    """Like ``scope_parties`` but empty for portal users: the staff API and UI are not theirs."""
    if getattr(user, "is_portal", False):
        return Party.objects.none()
    return scope_parties(user, queryset)


def visible_ids(user, ids) -> set[int]:
    """Which of the party ids ``ids`` ``user`` may see (one query; empty ids ignored).

    For pages and answers that name parties referred to by another record (a deal's
    organisation, a meeting's attendees): the others are shown without their names."""
    wanted = {i for i in ids if i}
    if not wanted:
        return set()
    return set(staff_scope(user).filter(pk__in=wanted).values_list("pk", flat=True))


def _parse_id(public_id) -> uuid.UUID:
    try:
        return public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
    except ValueError as exc:
        raise NotFound("No such record.") from exc


def get_party(user, public_id, *, kind: str | None = None, follow_merged: bool = True) -> Party:
    """The party with ``public_id`` that ``user`` may see, or NotFound.

    A merged party raises ``Moved`` pointing at the survivor, so old links and ids
    keep working (the API answers 308, the UI redirects).
    """
    pid = _parse_id(public_id)
    qs = staff_scope(user)
    if kind:
        qs = qs.filter(kind=kind)
    party = qs.filter(public_id=pid).first()
    if party is None:
        raise NotFound("No such person or organisation.")
    if party.status == Party.Status.MERGED and follow_merged:
        survivor = party
        seen = set()
        while survivor.merged_into_id and survivor.pk not in seen:
            seen.add(survivor.pk)
            survivor = Party.objects.get(pk=survivor.merged_into_id)
        if not is_visible(user, survivor):
            raise NotFound("No such person or organisation.")
        raise Moved(new_public_id=str(survivor.public_id), location=party_api_url(survivor))
    return party


def party_api_url(party: Party) -> str:
    name = "api:get_person" if party.kind == Party.Kind.PERSON else "api:get_organization"
    try:
        return reverse(name, kwargs={"public_id": party.public_id})
    except Exception:  # the API router may not be loaded in every context (CLI)
        return ""


def can_change(user, party: Party) -> bool:
    if not getattr(user, "can_write", False):
        return False
    return is_visible(user, party)


def get_party_for_change(user, public_id, *, kind: str | None = None) -> Party:
    """The party to change, or NotFound when invisible / Forbidden when read-only."""
    party = get_party(user, public_id, kind=kind)
    if not can_change(user, party):
        raise Forbidden("Your role can view this record but not change it.")
    return party


def require_writer(user) -> None:
    """Raise Forbidden unless ``user`` may create records (NotFound for non-staff:
    a customer learns nothing of the staff API, not even that an endpoint exists)."""
    require_staff(user)
    if not getattr(user, "can_write", False):
        raise Forbidden("Your role cannot create or change records.")


def require_manager(user) -> None:
    require_staff(user)
    if not getattr(user, "sees_everything", False):
        raise Forbidden("Only admins and managers can do this.")


def require_admin(user) -> None:
    require_staff(user)
    if user.role != "admin":
        raise Forbidden("Only admins can do this.")


def require_staff(user) -> None:
    """Vocabulary and settings endpoints are for staff, not portal users."""
    if not getattr(user, "is_staff_user", False):
        raise NotFound("Not found.")
