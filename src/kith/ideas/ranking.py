"""Ranking ideas: a registry of scorers.

A scorer takes a list of ideas and answers a score per idea id (higher ranks first).
The idea code never names one: ``queries.ranked_ideas`` asks the registry. Three are
built in: ``votes`` (the vote count), ``hot`` (votes decayed by age, so a fresh idea
with a few votes can rise above an old one with many) and ``value`` (the open deal
value at stake, in the base currency; staff only). A later scorer, e.g. the summed
customer value (CLV) of the voters, plugs in from its own app's ``ready()``::

    from kith.ideas import ranking
    ranking.register("clv", score_by_voter_clv, label="Customer value")

Registering an existing name replaces it (so an app may also redefine ``value``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from kith.core.errors import ValidationFailed

Scorer = Callable[[Sequence], Mapping[int, float | int | Decimal]]

# Hot score: votes over (age in hours + 2) ** GRAVITY, as link aggregators rank.
GRAVITY = 1.5


@dataclass(frozen=True)
class RegisteredScorer:
    name: str
    score: Scorer
    label: str
    staff_only: bool = False


_SCORERS: dict[str, RegisteredScorer] = {}


def register(name: str, score: Scorer, *, label: str = "", staff_only: bool = False) -> None:
    """Make ``score`` available as ranking ``name`` (replacing one of the same name)."""
    _SCORERS[name] = RegisteredScorer(name, score, label or name.title(), staff_only)


def unregister(name: str) -> None:
    _SCORERS.pop(name, None)


def scorers(*, staff: bool = True) -> list[RegisteredScorer]:
    return [s for s in _SCORERS.values() if staff or not s.staff_only]


def get(name: str, *, staff: bool = True) -> RegisteredScorer:
    found = _SCORERS.get(name)
    if found is None or (found.staff_only and not staff):
        names = ", ".join(["new", *(s.name for s in scorers(staff=staff))])
        raise ValidationFailed.single("rank", f"Unknown ranking; one of: {names}.")
    return found


def hot_score(votes: int, created_at: dt.datetime, now: dt.datetime | None = None) -> float:
    """Votes decayed by age: (votes + 1) / (hours + 2) ** GRAVITY."""
    now = now or timezone.now()
    hours = max(0.0, (now - created_at).total_seconds() / 3600)
    return (votes + 1) / (hours + 2) ** GRAVITY


def _by_votes(ideas: Sequence) -> dict[int, int]:
    return {idea.pk: idea.vote_count for idea in ideas}


def _by_hot(ideas: Sequence) -> dict[int, float]:
    now = timezone.now()
    return {idea.pk: hot_score(idea.vote_count, idea.created_at, now) for idea in ideas}


def _by_value(ideas: Sequence) -> dict[int, Decimal]:
    from .queries import value_at_stake

    stakes = value_at_stake([idea.pk for idea in ideas])
    return {idea.pk: stakes[idea.pk].amount if idea.pk in stakes else Decimal(0) for idea in ideas}


def rank(ideas: Sequence, name: str, *, staff: bool = True) -> list:
    """``ideas`` sorted by scorer ``name``, best first (ties: more votes, then newer)."""
    scorer = get(name, staff=staff)
    scores = scorer.score(ideas)
    return sorted(
        ideas,
        key=lambda i: (float(scores.get(i.pk, 0) or 0), i.vote_count, i.pk),
        reverse=True,
    )


register("votes", _by_votes, label="Top voted")
register("hot", _by_hot, label="Hot")
register("value", _by_value, label="Value at stake", staff_only=True)
