"""Raking: weights reproduce the population margins; a skewed sample is pulled back."""

from __future__ import annotations

import numpy as np
import pytest

from kith.core.errors import ValidationFailed
from kith.insights.raking import rake, weighted_share

MARGINS = {
    "segment": {"enterprise": 0.2, "smb": 0.5, "consumer": 0.3},
    "region": {"north": 0.6, "south": 0.4},
}


def _population(rng, size=20_000):
    seg = rng.choice(["enterprise", "smb", "consumer"], size, p=[0.2, 0.5, 0.3])
    reg = rng.choice(["north", "south"], size, p=[0.6, 0.4])
    # Satisfaction depends on both: enterprise and the south are happier.
    p = 0.3 + 0.4 * (seg == "enterprise") + 0.2 * (reg == "south")
    happy = rng.random(size) < p
    return seg, reg, happy


def test_weights_reproduce_the_population_margins():
    rng = np.random.default_rng(3)
    rows = [
        {"segment": s, "region": r}
        for s, r in zip(
            rng.choice(["enterprise", "smb", "consumer"], 500, p=[0.6, 0.3, 0.1]),
            rng.choice(["north", "south"], 500, p=[0.2, 0.8]),
            strict=True,
        )
    ]
    w = rake(rows, MARGINS)
    assert w.sum() == pytest.approx(500)
    for var, dist in MARGINS.items():
        for cat, share in dist.items():
            got = sum(wi for wi, row in zip(w, rows, strict=True) if row[var] == cat) / w.sum()
            assert got == pytest.approx(share, abs=1e-6)


def test_a_skewed_sample_weighted_is_closer_to_the_truth():
    rng = np.random.default_rng(11)
    seg, reg, happy = _population(rng)
    truth = happy.mean()
    # The loud few answer: enterprise customers in the south respond far more often.
    respond = 0.05 + 0.6 * (seg == "enterprise") + 0.3 * (reg == "south")
    sample = np.flatnonzero(rng.random(len(seg)) < respond)
    rows = [{"segment": seg[i], "region": reg[i]} for i in sample]
    answers = happy[sample]
    unweighted = weighted_share(answers)
    weighted = weighted_share(answers, rake(rows, MARGINS))
    assert abs(weighted - truth) < abs(unweighted - truth) / 3
    assert abs(weighted - truth) < 0.03


def test_an_empty_stratum_is_a_clear_error_naming_it():
    rows = [{"segment": "smb", "region": "north"}, {"segment": "consumer", "region": "south"}]
    with pytest.raises(ValidationFailed) as caught:
        rake(rows, MARGINS)
    assert [e.field for e in caught.value.errors] == ["margins.segment.enterprise"]
    with pytest.raises(ValidationFailed):
        rake([], MARGINS)
