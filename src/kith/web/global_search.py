"""Search everything a staff user may see, from one box (the command palette, Ctrl-K).

Each kind of record has a *provider*: a function that returns the best few matches of
a query among the records the user may see, through that app's own access scope and
an index: people and organisations through the people list's search index, community
topics through the community's, and deals, cases, activities, posts and ideas through
the substring indexes of :mod:`kith.web.global_search_index` (FTS5 trigram tables on
SQLite, ``pg_trgm`` GIN indexes on PostgreSQL), so a keystroke never scans a table. The
palette and ``GET /api/search`` both call :func:`search_everything`, which runs the
providers in a fixed order and groups their hits.

Other apps add their records with :func:`register` (listening adds mentions, say);
a provider that fails is logged and skipped, so one broken index never empties the box.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse

from kith.core.inputs import whole_number

logger = logging.getLogger(__name__)

MAX_QUERY = 200
PER_GROUP = 5


@dataclass(frozen=True)
class Hit:
    """One result: what it is, what to show and where it leads."""

    kind: str  # "person", "organization", "deal", "case", "activity", "post", "topic", "idea"
    title: str
    subtitle: str
    url: str


@dataclass(frozen=True)
class Group:
    key: str
    label: str
    hits: list[Hit]


Provider = Callable[[object, str, int], list[Hit]]

_PROVIDERS: list[tuple[str, str, Provider]] = []


def register(key: str, label: str, provider: Provider) -> None:
    """Add (or replace) the provider of one group; groups show in registration order."""
    for i, (existing, _label, _fn) in enumerate(_PROVIDERS):
        if existing == key:
            _PROVIDERS[i] = (key, label, provider)
            return
    _PROVIDERS.append((key, label, provider))


def search_everything(user, q: str, *, per_group: int = PER_GROUP) -> list[Group]:
    """The non-empty groups of hits for ``q``, each at most ``per_group`` long.

    Staff only: a portal user's scopes are their own, and the palette is not theirs.
    """
    q = " ".join((q or "").split())[:MAX_QUERY]
    if not q or getattr(user, "is_portal", False) or not getattr(user, "is_authenticated", False):
        return []
    groups = []
    for key, label, provider in _PROVIDERS:
        try:
            hits = provider(user, q, per_group)
        except Exception:  # one failing index must not empty the whole box
            logger.exception("global search: the %s provider failed", key)
            continue
        if hits:
            groups.append(Group(key=key, label=label, hits=hits[:per_group]))
    return groups


# ---------------------------------------------------------------- the built-in providers


def _parties(kind: str) -> Provider:
    def provide(user, q: str, limit: int) -> list[Hit]:
        from kith.people import access, search
        from kith.people.models import Party

        qs = access.staff_scope(user).filter(kind=kind, status=Party.Status.ACTIVE)
        url_name = "people:person" if kind == Party.Kind.PERSON else "people:organization"
        return [
            Hit(kind, p.display_name, "", reverse(url_name, args=[p.public_id]))
            for p in search.search(qs, q, limit=limit)
        ]

    return provide


def _matching(qs, key: str, q: str):
    """``qs`` narrowed to rows containing every word of ``q``, through the substring
    index of kith.web.global_search_index; None when no word is long enough to match."""
    from kith.web import global_search_index

    return global_search_index.match(qs, key, q)


def _deals(user, q: str, limit: int) -> list[Hit]:
    from kith.sales import access

    matched = _matching(access.scope_deals(user), "deal", q)
    if matched is None:
        return []
    qs = list(
        matched.select_related("stage", "organization").order_by("-updated_at", "-id")[:limit]
    )
    # A deal visible to everyone may name an organisation the reader may not see.
    visible = access.visible_party_ids(user, qs)
    return [
        Hit(
            "deal",
            d.title,
            " · ".join(
                x
                for x in (
                    d.stage.name,
                    d.organization_id in visible and d.organization.display_name,
                )
                if x
            ),
            reverse("sales:deal", args=[d.public_id]),
        )
        for d in qs
    ]


def _cases(user, q: str, limit: int) -> list[Hit]:
    from kith.service import access

    scope = access.scope_cases(user)
    found = []
    number = whole_number(q.lstrip("#"))
    if number is not None:
        found = list(scope.filter(number=number))  # the case number's own index
    matched = _matching(scope, "case", q)
    if matched is not None:
        seen = {c.pk for c in found}
        found += [c for c in matched.order_by("-updated_at", "-id")[:limit] if c.pk not in seen]
    qs = found[:limit]
    return [
        Hit(
            "case",
            f"#{c.number} {c.subject}",
            c.get_status_display(),
            reverse("service:case", args=[c.public_id]),
        )
        for c in qs
    ]


def _activities(user, q: str, limit: int) -> list[Hit]:
    from kith.work import access

    matched = _matching(access.scope_activities(user), "activity", q)
    if matched is None:
        return []
    qs = matched.select_related("type").order_by("-id")[:limit]
    return [
        Hit("activity", a.summary, a.type.name, reverse("work:activity", args=[a.public_id]))
        for a in qs
    ]


def _posts(user, q: str, limit: int) -> list[Hit]:
    from kith.collab import access

    # The scope checks visibility; the feed check needs the target, so candidates are
    # checked one by one and a few extra are drawn for those the user may not read.
    matched = _matching(access.scope_posts(user), "post", q)
    if matched is None:
        return []
    candidates = matched.select_related("author", "target_type").order_by("-id")[: limit * 3]
    hits = []
    for post in candidates:
        if not access.can_see_post(user, post):
            continue
        text = " ".join(post.body_markdown.split())
        hits.append(
            Hit(
                "post",
                text[:90] + ("…" if len(text) > 90 else ""),
                post.author.get_full_name() or post.author.get_username() if post.author else "",
                reverse("collab:post", args=[post.public_id]),
            )
        )
        if len(hits) >= limit:
            break
    return hits


def _topics(user, q: str, limit: int) -> list[Hit]:
    from kith.community import access, search

    # The community's own search service (FTS5 / tsvector over title, tags and body).
    scope = access.scope_topics(user).filter(merged_into__isnull=True).select_related("space")
    qs = search.search(scope, q, limit=limit)
    return [
        Hit("topic", t.title, t.space.name, reverse("community:topic", args=[t.public_id]))
        for t in qs
    ]


def _ideas(user, q: str, limit: int) -> list[Hit]:
    from kith.ideas import access

    matched = _matching(access.scope_ideas(user), "idea", q)
    if matched is None:
        return []
    qs = matched.order_by("-id")[:limit]
    return [
        Hit("idea", i.title, i.get_status_display(), reverse("ideas:idea", args=[i.public_id]))
        for i in qs
    ]


register("people", "People", _parties("person"))
register("organizations", "Organisations", _parties("organization"))
register("deals", "Deals", _deals)
register("cases", "Cases", _cases)
register("activities", "Activities", _activities)
register("posts", "Posts", _posts)
register("topics", "Community", _topics)
register("ideas", "Ideas", _ideas)
