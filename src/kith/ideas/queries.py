"""Reads for the idea portal: ranked lists, one idea's page, a person's ideas and votes,
and the open deal value at stake (converted to the base currency like the forecast)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from kith.core.errors import ValidationFailed
from kith.core.pagination import Page, clamp_limit, decode_cursor, encode_cursor, paginate

from . import access, ranking
from .models import (
    OPEN_STATUSES,
    Idea,
    IdeaComment,
    IdeaContributor,
    IdeaFollow,
    IdeaLink,
    IdeaStatusChange,
    IdeaVote,
    Status,
)

# Rankings computed outside the database look at this many candidates (the most recently
# active open ideas); votes and "new" are keyset-paginated over every idea.
RANK_WINDOW = 2000
CENT = Decimal("0.01")


@dataclass
class Stake:
    """Open deals asking for an idea: their summed value in the base currency."""

    amount: Decimal = Decimal(0)
    currency: str = ""
    deals: int = 0
    missing_rates: list[str] = field(default_factory=list)


def value_at_stake(idea_ids: list[int], *, deals: QuerySet | None = None) -> dict[int, Stake]:
    """Per idea, the open (not won, not lost) linked deals' amounts in the base currency,
    converted with the rates valid today; deals in a currency without a rate are left
    out and named in ``missing_rates``. ``deals`` limits which deals count (a reader's)."""
    from kith.sales.models import base_currency
    from kith.sales.queries import rates_on

    links = IdeaLink.objects.filter(
        idea_id__in=idea_ids,
        deal__isnull=False,
        deal__stage__is_won=False,
        deal__stage__is_lost=False,
    )
    if deals is not None:
        links = links.filter(deal__in=deals)
    rows = list(links.values_list("idea_id", "deal__amount", "deal__currency"))
    base = base_currency()
    rates, missing = rates_on({cur for _, _, cur in rows}, timezone.localdate())
    out: dict[int, Stake] = {}
    for idea_id, amount, currency in rows:
        stake = out.setdefault(idea_id, Stake(currency=base))
        if currency in missing:
            if currency not in stake.missing_rates:
                stake.missing_rates.append(currency)
            continue
        stake.amount = (stake.amount + Decimal(amount) * rates[currency]).quantize(CENT)
        stake.deals += 1
    return out


def reader_stake(user, idea: Idea) -> Stake | None:
    """The value at stake over the deals ``user`` may see (None for customers)."""
    if not access.is_staff(user):
        return None
    from kith.sales.access import scope_deals

    return value_at_stake([idea.pk], deals=scope_deals(user)).get(idea.pk, Stake())


def _filtered(user, *, status: str = "", category=None, q: str = "") -> QuerySet:
    qs = access.scope_ideas(user).filter(merged_into__isnull=True)
    if status:
        if status not in Status.values:
            raise ValidationFailed.single("status", f"Must be one of: {', '.join(Status.values)}.")
        qs = qs.filter(status=status)
    if category is not None:
        qs = qs.filter(category=category)
    if q:
        qs = qs.filter(title__icontains=q[:100])
    return qs.select_related("category", "author")


def list_ideas(
    user,
    *,
    rank: str = "votes",
    status: str = "",
    category=None,
    q: str = "",
    cursor: str | None = None,
    limit: int | None = None,
) -> Page:
    """One page of ideas the reader may see, best first by ``rank``."""
    limit = clamp_limit(limit, 25)
    qs = _filtered(user, status=status, category=category, q=q)
    if rank == "new":
        return paginate(qs, order=("-created_at", "-id"), cursor=cursor, limit=limit)
    staff = access.is_staff(user)
    ranking.get(rank, staff=staff)  # unknown names are a 422 naming "rank"
    if rank == "votes" and ranking.get("votes").score is ranking._by_votes:
        return paginate(qs, order=("-vote_count", "-id"), cursor=cursor, limit=limit)
    # A computed score: rank a window of candidates, page by offset within it.
    offset = 0
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 2 or values[0] != rank or not isinstance(values[1], int):
            raise ValidationFailed.single("cursor", "Cursor does not match this list.")
        offset = max(0, values[1])
    candidates = list(qs.order_by("-updated_at", "-id")[:RANK_WINDOW])
    ordered = ranking.rank(candidates, rank, staff=staff)
    items = ordered[offset : offset + limit]
    more = offset + limit < len(ordered)
    return Page(items=items, next_cursor=encode_cursor([rank, offset + limit]) if more else None)


def my_votes(user, idea_ids: list[int]) -> set[int]:
    if not access.is_logged_in(user) or not idea_ids:
        return set()
    return set(
        IdeaVote.objects.filter(voter=user, idea_id__in=idea_ids).values_list("idea_id", flat=True)
    )


@dataclass
class IdeaPage:
    idea: Idea
    comments: list[IdeaComment]
    history: list[IdeaStatusChange]
    contributors: list[IdeaContributor]
    voted: bool
    following: bool
    links: list[IdeaLink]
    stake: Stake | None
    budget_left: int | None


def budget_left(user, idea: Idea) -> int | None:
    budget = idea.category.vote_budget
    if budget is None or not access.is_logged_in(user):
        return None
    used = IdeaVote.objects.filter(
        voter=user,
        idea__category_id=idea.category_id,
        idea__status__in=OPEN_STATUSES,
        idea__merged_into__isnull=True,
    ).count()
    return max(0, budget - used)


def idea_page(user, idea: Idea) -> IdeaPage:
    logged_in = access.is_logged_in(user)
    return IdeaPage(
        idea=idea,
        comments=list(idea.comments.select_related("author").order_by("created_at", "id")[:500]),
        history=list(idea.status_changes.select_related("actor").order_by("created_at", "id")),
        contributors=list(idea.contributors.select_related("user").order_by("created_at", "id")),
        voted=logged_in and IdeaVote.objects.filter(idea=idea, voter=user).exists(),
        following=logged_in and IdeaFollow.objects.filter(idea=idea, user=user).exists(),
        links=access.visible_links(user, idea),
        stake=reader_stake(user, idea),
        budget_left=budget_left(user, idea),
    )


def mine(user) -> dict[str, Any]:
    """The reader's own ideas and the ideas they voted for."""
    if not access.is_logged_in(user):
        return {"ideas": [], "votes": []}
    ideas = list(
        Idea.objects.filter(author=user)
        .select_related("category", "merged_into")
        .order_by("-created_at")[:200]
    )
    votes = list(
        IdeaVote.objects.filter(voter=user)
        .select_related("idea", "idea__category")
        .order_by("-created_at")[:200]
    )
    return {"ideas": ideas, "votes": votes}


def of_party(party) -> dict[str, Any]:
    """A person's ideas and votes (through their logins), for the person page."""
    from kith.accounts.models import User

    users = list(User.objects.filter(person=party).values_list("pk", flat=True))
    if not users:
        return {"ideas": [], "votes": [], "credits": []}
    return {
        "ideas": list(Idea.objects.filter(author_id__in=users).order_by("-created_at")[:20]),
        "votes": list(
            IdeaVote.objects.filter(voter_id__in=users)
            .select_related("idea")
            .order_by("-created_at")[:20]
        ),
        "credits": list(
            IdeaContributor.objects.filter(user_id__in=users)
            .select_related("idea")
            .order_by("-created_at")[:20]
        ),
    }


def board(user) -> dict[str, list[Idea]]:
    """The triage board: open and closed ideas by status, most voted first."""
    columns: dict[str, list[Idea]] = {}
    base = (
        access.scope_ideas(user)
        .filter(merged_into__isnull=True)
        .select_related("category", "author")
    )
    for status in Status.values:
        columns[status] = list(base.filter(status=status).order_by("-vote_count", "-id")[:50])
    return columns
