"""The research part of ``kith demo``: one finished panel survey over a base with community
activity, weighted beside unweighted; ``wipe`` removes the panel and survey."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.community.models import Post, PostRead, Space, Topic
from kith.demo import data
from kith.insights import demo_research, panels, participation
from kith.insights.models_research import Panel, Survey, SurveyInvitation
from kith.interactions.models import Interaction
from tests.insights.test_research_panels import _customer


@pytest.fixture
def community(db, alice):
    """60 customers: a third of them write in the community, the rest only read."""
    users = [_customer(i, "DE" if i % 3 else "FR") for i in range(60)]
    space = Space.objects.create(name="Help", slug="help")
    topic = Topic.objects.create(
        space=space, title="Hi", author=users[0], last_activity_at=timezone.now()
    )
    opening = Post.objects.create(
        topic=topic, kind="question", author=users[0], body="x", body_html="x"
    )
    for i, u in enumerate(users):
        if i % 3 == 0:
            Post.objects.create(topic=topic, kind="answer", author=u, body="y", body_html="y")
        else:
            PostRead.objects.create(user=u, post=opening, created_at=timezone.now())
    return users


def test_the_demo_is_one_of_the_loader_extensions():
    assert "kith.insights.demo_research" in data.EXTENSIONS
    # After the community and portal demos, whose activity it measures.
    assert data.EXTENSIONS.index("kith.insights.demo_research") > data.EXTENSIONS.index(
        "kith.community.demo"
    )


def test_demo_writes_a_finished_weighted_survey_and_wipes_it(community):
    line = demo_research.load(seed=42, anchor=dt.date.today())
    assert line.startswith("research panel of "), line
    overall = participation.participation(days=30)
    assert overall.counts["lurker"] == 40 and overall.counts["contributor"] == 20
    survey = Survey.objects.get(title="How are we doing? (demo)")
    assert survey.status == "closed"
    res = panels.results(survey)
    assert res.respondents >= 10, line
    assert res.weighted, res.weighting_message
    for m in res.margins:
        assert m["weighted"] == pytest.approx(m["population"])
    yes = next(o for o in res.questions[0]["options"] if o["choice"] == "Yes")
    assert yes["weighted"] != pytest.approx(yes["unweighted"])
    assert Interaction.objects.filter(channel="survey").count() == res.respondents
    demo_research.wipe()  # no demo audit channel here: nothing is named, nothing goes
    assert Panel.objects.count() == 1
    from kith.core.models import AuditEntry

    AuditEntry.objects.filter(action="panel.built").update(channel="demo")
    demo_research.wipe()
    assert not Panel.objects.exists() and not Survey.objects.exists()
    assert not SurveyInvitation.objects.exists()
    assert not Interaction.objects.filter(channel="survey").exists()
