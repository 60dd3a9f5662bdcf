"""Who may see or change deals, products, pipelines and exchange rates.

Deals follow the same ownership and visibility rules as people (``kith.people.access``):

* admins and managers see and change every deal;
* agents see deals visible to everyone, their teams' deals and their own private ones,
  and change what they see;
* viewers see what agents see and change nothing (403);
* portal users (customers) get nothing from the staff API and UI (404).

Products, pipelines, stages and exchange rates are readable by every staff user and
changed only by admins and managers. An invisible deal is *not found*, never forbidden.
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet

from kith.core.errors import Forbidden, NotFound
from kith.people.access import require_manager, require_staff, require_writer
from kith.people.models import Visibility
from kith.sales.models import (
    Deal,
    DealContact,
    DealLine,
    ForecastCell,
    Pipeline,
    Product,
    Stage,
)

__all__ = [
    "can_change_deal",
    "get_deal",
    "get_deal_for_change",
    "require_manager",
    "require_staff",
    "require_writer",
    "scope_deals",
]


def deal_filter(user, *, owner: str = "owner_id", team: str = "team_id") -> Q | None:
    """A Q limiting deals to those ``user`` may see; None means no limit.

    ``owner`` and ``team`` name the columns, so forecast cells are scoped the same way.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Q(pk__in=[])
    if getattr(user, "is_portal", False) or not getattr(user, "is_staff_user", False):
        return Q(pk__in=[])
    if user.sees_everything:
        return None
    team_ids = user.team_ids()
    condition = Q(visibility=Visibility.EVERYONE) | Q(**{owner: user.pk})
    if team_ids:
        condition |= Q(visibility=Visibility.TEAM, **{f"{team}__in": team_ids})
    return condition


def scope_cells(user) -> QuerySet:
    """Forecast cells of the deals ``user`` may see (same rule as ``scope_deals``)."""
    condition = deal_filter(user, owner="owner_key", team="team_key")
    qs = ForecastCell.objects.all()
    return qs if condition is None else qs.filter(condition)


def scope_deals(user, queryset: QuerySet | None = None) -> QuerySet:
    """Deals ``user`` may see (empty for portal users)."""
    qs = Deal.objects.all() if queryset is None else queryset
    condition = deal_filter(user)
    return qs if condition is None else qs.filter(condition)


def _uuid(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound("No such record.") from exc


def get_deal(user, public_id) -> Deal:
    deal = (
        scope_deals(user)
        .select_related("stage", "pipeline", "owner", "team", "organization", "person")
        .filter(public_id=_uuid(public_id))
        .first()
    )
    if deal is None:
        raise NotFound("No such deal.")
    return deal


def visible_party_ids(user, deals) -> set[int]:
    """Which of the deals' organisations and people ``user`` may see (one query).

    A deal visible to everyone may name an organisation or a person the reader may not
    see; the API and the pages then show the reference without the name.
    """
    from kith.people.access import visible_ids

    return visible_ids(user, [i for d in deals for i in (d.organization_id, d.person_id)])


def can_change_deal(user, deal: Deal) -> bool:
    if not getattr(user, "can_write", False):
        return False
    return scope_deals(user, Deal.objects.filter(pk=deal.pk)).exists()


def get_deal_for_change(user, public_id) -> Deal:
    """The deal to change: NotFound when invisible, Forbidden when read-only."""
    deal = get_deal(user, public_id)
    if not can_change_deal(user, deal):
        raise Forbidden("Your role can view this deal but not change it.")
    return deal


def get_line(user, public_id, *, change: bool) -> DealLine:
    line = DealLine.objects.select_related("deal", "product").filter(public_id=_uuid(public_id))
    found = line.first()
    if found is None:
        raise NotFound("No such line item.")
    (get_deal_for_change if change else get_deal)(user, found.deal.public_id)
    return found


def get_contact(user, public_id, *, change: bool) -> DealContact:
    found = DealContact.objects.select_related("deal", "person").filter(public_id=_uuid(public_id))
    contact = found.first()
    if contact is None:
        raise NotFound("No such deal contact.")
    (get_deal_for_change if change else get_deal)(user, contact.deal.public_id)
    return contact


def get_product(user, public_id) -> Product:
    require_staff(user)
    found = Product.objects.filter(public_id=_uuid(public_id)).first()
    if found is None:
        raise NotFound("No such product.")
    return found


def get_pipeline(user, public_id) -> Pipeline:
    require_staff(user)
    found = Pipeline.objects.filter(public_id=_uuid(public_id)).first()
    if found is None:
        raise NotFound("No such pipeline.")
    return found


def get_stage(user, public_id) -> Stage:
    require_staff(user)
    found = Stage.objects.select_related("pipeline").filter(public_id=_uuid(public_id)).first()
    if found is None:
        raise NotFound("No such stage.")
    return found
