"""Read-side queries for people lists: filters shared by the API, the web UI and CSV export."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from kith.core.errors import FieldError, ValidationFailed
from kith.people.models import ContactPoint, Party, Relationship


@dataclass
class PartyFilters:
    q: str = ""
    role: str = ""
    organization: str = ""  # public id of an organisation: its current people
    tag: str = ""
    owner: str = ""  # username, or "me"
    kind: str = ""
    as_of: str = ""  # YYYY-MM-DD: role and organisation filters on that day, not today

    @classmethod
    def from_mapping(cls, data) -> PartyFilters:
        return cls(**{name: (data.get(name) or "").strip() for name in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


FORMER_PREFIX = "former-"


def _holding_role(slug: str, day: dt.date | None) -> QuerySet:
    """Subject ids holding ``slug`` on ``day`` (default today).

    "Former customer" is also anyone whose customer role has ended and who holds
    none today: people end a role rather than record a second one, so the
    vocabulary's former-customer rows alone found nobody.
    """
    held = Relationship.objects.current(day).filter(role__slug=slug).values("subject_id")
    if not slug.startswith(FORMER_PREFIX):
        return held
    base = slug.removeprefix(FORMER_PREFIX)
    on = day or timezone.localdate()
    ended = Relationship.objects.filter(role__slug=base, valid_to__lt=on).exclude(
        subject_id__in=Relationship.objects.current(day)
        .filter(role__slug=base)
        .values("subject_id")
    )
    return Relationship.objects.filter(
        Q(pk__in=held.values("pk")) | Q(pk__in=ended.values("pk"))
    ).values("subject_id")


def apply_filters(qs: QuerySet, filters: PartyFilters, *, user=None) -> QuerySet:
    """Narrow ``qs`` (already scoped to the user) by the list filters; search is separate."""
    errors = []
    if filters.kind:
        if filters.kind not in Party.Kind.values:
            errors.append(FieldError("kind", "Must be person or organization."))
        else:
            qs = qs.filter(kind=filters.kind)
    day = None
    if filters.as_of:
        try:
            day = dt.date.fromisoformat(filters.as_of)
        except ValueError:
            errors.append(FieldError("as_of", "Must be a date such as 2024-12-31."))
    if filters.role:
        qs = qs.filter(pk__in=_holding_role(filters.role, day))
    if filters.organization:
        try:
            org_id = uuid.UUID(filters.organization)
        except ValueError:
            errors.append(FieldError("organization", "Must be an organisation id."))
        else:
            qs = qs.filter(
                pk__in=Relationship.objects.current(day)
                .filter(object__public_id=org_id)
                .values("subject_id")
            )
    if filters.tag:
        qs = qs.filter(tags__name__iexact=filters.tag)
    if filters.owner:
        if filters.owner == "me" and user is not None:
            qs = qs.filter(owner=user)
        else:
            qs = qs.filter(owner__username=filters.owner)
    if errors:
        raise ValidationFailed(errors=errors)
    return qs


def with_list_data(qs: QuerySet) -> QuerySet:
    """Prefetch what list rows show: primary contact points, tags, current roles."""
    return qs.select_related("owner").prefetch_related(
        "tags",
        Prefetch(
            "contact_points", queryset=ContactPoint.objects.order_by("channel", "-primary", "id")
        ),
        Prefetch(
            "relationships",
            queryset=Relationship.objects.current().select_related("role", "object"),
            to_attr="current_relationships",
        ),
    )


def list_rows_data(parties: list[Party]) -> dict[int, dict[str, list]]:
    """What list rows show of ``parties`` (contact points, tags, current roles), keyed by
    party id, as keyword arguments for ``schemas.party_out``: three queries for a page.

    Does what ``with_list_data``'s prefetches do without their per-row cost: Django's
    prefetch clones a queryset for each party and each relation, which for a page of
    50 people cost more than all of its queries (measured: 60 ms of a 70 ms page).
    """
    ids = [p.pk for p in parties]
    data: dict[int, dict[str, list]] = {
        pk: {"contact_points": [], "tags": [], "relationships": []} for pk in ids
    }
    if not ids:
        return data
    for cp in ContactPoint.objects.filter(party_id__in=ids).order_by():
        data[cp.party_id]["contact_points"].append(cp)
    through = Party.tags.through
    for link in through.objects.filter(party_id__in=ids).select_related("tag"):
        data[link.party_id]["tags"].append(link.tag)
    for rel in (
        Relationship.objects.current().filter(subject_id__in=ids).select_related("role", "object")
    ):
        data[rel.subject_id]["relationships"].append(rel)
    return data


def detail_data(party: Party) -> dict[str, list]:
    """A party's contact points and tags, as keyword arguments for ``schemas.party_out``.

    For a party the access check has loaded already: ``with_list_data(...).get()`` read
    it a second time and prefetched its current roles, which a detail reply (every
    role, read by ``party_out(all_roles=True)``) does not show; two of a read's queries.
    """
    return {
        "contact_points": list(ContactPoint.objects.filter(party=party).order_by()),
        "tags": list(party.tags.order_by()),
    }


def current_roles(party: Party) -> list[Relationship]:
    rels = getattr(party, "current_relationships", None)
    if rels is None:
        rels = list(
            Relationship.objects.current().filter(subject=party).select_related("role", "object")
        )
    return rels


def primary_contact(party: Party, channel: str) -> str:
    for cp in party.contact_points.all():
        if cp.channel == channel:
            return cp.value
    return ""


def people_by_current_role(org: Party) -> dict[str, list[tuple[Party, Relationship]]]:
    """An organisation's people grouped by the role they hold towards it today."""
    groups: dict[str, list[tuple[Party, Relationship]]] = {}
    rels = (
        Relationship.objects.current()
        .filter(object=org, subject__status=Party.Status.ACTIVE)
        .select_related("subject", "role")
        .order_by("role__name", "subject__sort_name")
    )
    for rel in rels:
        groups.setdefault(rel.role.name, []).append((rel.subject, rel))
    return groups


# ---------------------------------------------------------------- list totals


@dataclass(frozen=True)
class ListCount:
    """How many rows a list has: exact, or the database planner's estimate."""

    value: int
    is_estimate: bool


def count_rows(qs: QuerySet) -> ListCount:
    """The number of rows of ``qs``, at a bounded cost.

    An exact count reads every row (measured on SQLite at 100,000 people: 18 ms for an
    admin, 0.5 s with an agent's visibility filter), so a list first asks for an
    estimate: PostgreSQL's planner estimate for the same query (``EXPLAIN``, from the
    statistics ``ANALYZE`` keeps), elsewhere :func:`sampled_estimate`. A list clearly
    larger than ``KITH_EXACT_COUNT_LIMIT`` answers with it, flagged. Otherwise the rows
    are counted, reading no more than the limit plus one (``COUNT(*)`` over a
    ``LIMIT``): exact up to the limit, and just past it the estimate again (never below
    what was counted).
    """
    limit = settings.KITH_EXACT_COUNT_LIMIT
    unordered = qs.order_by()
    estimate = planner_estimate(unordered)
    if estimate is None:
        estimate = sampled_estimate(unordered, budget=min(limit, SAMPLE_BUDGET))
        if not estimate.is_estimate:
            return estimate
        estimate = estimate.value
    if estimate > 2 * limit:
        return ListCount(estimate, True)
    capped = unordered[: limit + 1].count()
    if capped <= limit:
        return ListCount(capped, False)
    return ListCount(max(estimate, capped), True)


def planner_estimate(qs: QuerySet) -> int | None:
    """Rows PostgreSQL's planner expects ``qs`` to return; None on other databases."""
    connection = connections[qs.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = qs.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):  # the driver hands json back parsed, or not
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


SAMPLE_WINDOWS = 16
# Keys a sampled estimate reads at most: about ±2 % at 100,000 rows, a few milliseconds.
SAMPLE_BUDGET = 2000


def sampled_estimate(qs: QuerySet, *, budget: int) -> ListCount:
    """``qs``'s rows estimated from a sample of at most ``budget`` primary keys.

    The key range ``[min, max]`` (two index look-ups) is sampled in ``SAMPLE_WINDOWS``
    evenly spread windows of consecutive keys; the share of keys in them that are rows
    of ``qs`` (the filters applied, deleted keys counting as misses) times the range's
    width is the estimate. One query, reading at most ``budget`` keys; a range no wider
    than the budget is counted exactly instead.
    """
    # Two queries: SQLite reads one end of the key index for MIN() or MAX() alone, but
    # scans the table for both in one query (25 ms at 100,000 rows).
    keys = qs.model._default_manager.using(qs.db).order_by("pk").values_list("pk", flat=True)
    lo = keys.first()
    if lo is None:
        return ListCount(0, False)
    hi = keys.reverse().first()
    width = hi - lo + 1
    if width <= budget:  # the whole range fits the budget: count it
        return ListCount(qs.count(), False)
    size = max(1, budget // SAMPLE_WINDOWS)
    starts = sorted({lo + (width * i) // SAMPLE_WINDOWS for i in range(SAMPLE_WINDOWS)})
    windows = Q()
    for start in starts:
        windows |= Q(pk__gte=start, pk__lt=start + size)
    hits = qs.filter(windows).count()
    return ListCount(round(hits * width / (len(starts) * size)), True)
