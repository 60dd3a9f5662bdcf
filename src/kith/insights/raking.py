"""Raking (iterative proportional fitting) of survey weights to population margins.

Respondents are rarely a fair sample: the loud answer, the quiet do not. Raking gives
each respondent a weight so that, for every variable with a known population
distribution (segment, region, CLV band…), the weighted respondents match it; results
are then reported weighted beside unweighted. Deming & Stephan (1940): adjust the
weights to each margin in turn until all agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kith.core.errors import FieldError, ValidationFailed


def rake(
    respondents: Sequence[Mapping[str, str]],
    margins: Mapping[str, Mapping[str, float]],
    *,
    max_iterations: int = 200,
    tolerance: float = 1e-9,
) -> np.ndarray:
    """Weights (summing to the number of respondents) matching every margin.

    ``respondents``: one mapping per respondent, variable → category.
    ``margins``: variable → {category: population count or share} (normalised here).
    An empty stratum (a category of the population no respondent falls in) cannot be
    weighted up from nothing: it is a ``ValidationFailed`` naming the margin, as is a
    respondent whose category has no population figure.
    """
    n = len(respondents)
    errors: list[FieldError] = []
    if n == 0:
        errors.append(FieldError("respondents", "No respondents to weight."))
    if not margins:
        errors.append(FieldError("margins", "No population margins given."))
    codes: dict[str, np.ndarray] = {}
    targets: dict[str, np.ndarray] = {}
    for var, dist in margins.items():
        cats = list(dist)
        total = float(sum(dist.values()))
        if any(v < 0 for v in dist.values()) or total <= 0:
            errors.append(
                FieldError(f"margins.{var}", "Population figures must be ≥ 0, not all 0.")
            )
            continue
        index = {c: i for i, c in enumerate(cats)}
        column = np.empty(n, dtype=np.int64)
        for r, row in enumerate(respondents):
            value = row.get(var)
            if value not in index:
                errors.append(
                    FieldError(f"respondents[{r}].{var}", f"{value!r} has no population figure.")
                )
                column[r] = -1
            else:
                column[r] = index[value]
        counts = np.bincount(column[column >= 0], minlength=len(cats))
        for c, cat in enumerate(cats):
            if dist[cat] > 0 and counts[c] == 0:
                errors.append(
                    FieldError(f"margins.{var}.{cat}", "Empty stratum: no respondent in it.")
                )
        codes[var] = column
        targets[var] = np.array([dist[c] / total for c in cats]) * n
    if errors:
        raise ValidationFailed("Cannot weight these respondents.", errors=errors[:50])

    weights = np.ones(n)
    for _ in range(max_iterations):
        worst = 0.0
        for var, column in codes.items():
            current = np.bincount(column, weights=weights, minlength=len(targets[var]))
            factor = np.divide(targets[var], current, out=np.zeros_like(current), where=current > 0)
            weights = weights * factor[column]
            worst = max(worst, float(np.max(np.abs(current - targets[var]))) / n)
        if worst < tolerance:
            break
    return weights


def weighted_share(values: Sequence[bool], weights: np.ndarray | None = None) -> float:
    """The (weighted) share of True among ``values``."""
    v = np.asarray(values, dtype=float)
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=float)
    return float((v * w).sum() / w.sum())
