"""The research part of ``kith demo``: participation to measure, one finished panel survey
whose weighted result differs from the unweighted one; the demo's wipe removes it."""

from __future__ import annotations

import pytest

from kith.demo import data
from kith.insights import panels, participation
from kith.insights.models_research import Panel, Survey


@pytest.fixture
def demo(db):
    return data.load(people=120, organizations=10, interactions=300)


def test_demo_has_participation_and_a_finished_weighted_survey(demo):
    line = next(x for x in demo.extensions if "research panel" in x)
    assert "skipped" not in line, line
    overall = participation.participation(days=365)
    assert overall.members > 0 and overall.counts["lurker"] > 0
    assert overall.gini is not None and 0 < overall.gini < 1
    survey = Survey.objects.get(title="How are we doing? (demo)")
    assert survey.status == "closed"
    res = panels.results(survey)
    assert res.respondents > 5, line
    first = res.questions[0]["options"]
    assert all(o["unweighted"] is not None for o in first)
    if res.weighted:
        for m in res.margins:
            assert m["weighted"] == pytest.approx(m["population"])
    else:
        assert res.weighting_message
    data.wipe()
    assert not Panel.objects.exists() and not Survey.objects.exists()
