"""The listening part of ``kith demo``: a few thousand mentions through the pipeline,
matched people, a worked queue, and a wipe that leaves nothing behind."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from kith.demo import data
from kith.interactions.models import Interaction
from kith.listening import pipeline
from kith.listening.models import Keyword, Mention, Source


@pytest.fixture
def demo(db, monkeypatch):
    # The model's judgement is the sentiment module's business (and its tests'); here a
    # word rule keeps the demo's shape independent of it.
    monkeypatch.setattr(
        pipeline,
        "score_sentiment",
        lambda texts: [
            ("negative", 0.9)
            if any(w in t for w in ("down", "broken", "crashed", "never"))
            else ("positive", 0.8)
            if any(w in t for w in ("Love", "great", "awesome"))
            else ("neutral", 0.7)
            for t in texts
        ],
    )
    return data.load(people=60, organizations=6, interactions=100)


def test_demo_has_mentions_on_every_source_some_matched_and_a_worked_queue(demo):
    line = next(x for x in demo.extensions if x.startswith("listening"))
    assert "2400 mentions on 4 listening sources" in line, line
    assert Source.objects.count() == 4 and Keyword.objects.filter(is_competitor=True).count() == 2
    assert Mention.objects.count() == 2400
    assert set(Mention.objects.values_list("source__kind", flat=True)) == {
        "mastodon",
        "feed",
        "webhook",
        "upload",
    }
    matched = Mention.objects.filter(person__isnull=False)
    assert matched.count() > 300
    mirrors = Interaction.objects.filter(related_type=ContentType.objects.get_for_model(Mention))
    assert mirrors.count() == matched.count()
    statuses = set(Mention.objects.values_list("status", flat=True))
    assert {"new", "replied", "dismissed", "converted"} <= statuses
    assert Mention.objects.filter(keywords__icontains='"globex"').exists()


def test_wipe_removes_the_listening_demo(demo):
    data.wipe()
    assert not Source.objects.exists() and not Mention.objects.exists()
    assert not Keyword.objects.exists()
    mention_ct = ContentType.objects.get_for_model(Mention)
    assert not Interaction.objects.filter(related_type=mention_ct).exists()
