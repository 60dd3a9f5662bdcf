"""services.ingest end to end on the database: storage, idempotency, copies, matching,
the timeline mirror and who may see it, events, assignment."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.core.models import OutboxEvent
from kith.interactions import access as interaction_access
from kith.interactions.models import Interaction
from kith.listening import pipeline, services
from kith.listening.incoming import IncomingMention
from kith.listening.models import Keyword, Mention, MentionStatus, Source
from kith.people.models import ContactPoint
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fixed_sentiment(monkeypatch):
    """Sentiment by a word, so tests do not depend on the model's judgement."""

    def score(texts):
        return [
            ("negative", 0.9)
            if "broken" in t
            else ("positive", 0.8)
            if "love" in t
            else ("neutral", 0.6)
            for t in texts
        ]

    monkeypatch.setattr(pipeline, "score_sentiment", score)


@pytest.fixture
def source(db) -> Source:
    return Source.objects.create(kind="webhook", name="Hook", first_response_minutes=60)


def m(ext, text="the app is broken again", **kw) -> IncomingMention:
    kw.setdefault("channel", "mastodon")
    return IncomingMention(external_id=ext, text=text, **kw)


def test_ingest_stores_enriched_mentions_and_reingest_makes_nothing_new(source):
    Keyword.objects.create(term="App", normalized="app")
    batch = [
        m("1", "<b>the app is broken</b> again #fail", author_followers=1200),
        m("2", "I love the new dashboard", published_at=timezone.now() - dt.timedelta(hours=3)),
        m("", "no id"),
    ]
    first = services.ingest(source, batch)
    assert (first.created, first.duplicates, len(first.rejected)) == (2, 0, 1)
    assert first.rejected[0].index == 2 and first.rejected[0].field == "external_id"
    one = Mention.objects.get(source=source, external_id="1")
    assert one.text == "the app is broken again #fail"
    assert one.language == "en"
    assert (one.sentiment_label, one.sentiment_score) == ("negative", -0.9)
    assert one.keywords == ["app"] and one.hashtags == ["fail"] and one.topic == "bug"
    assert one.status == MentionStatus.NEW
    assert one.first_response_due == one.received_at + dt.timedelta(minutes=60)
    two = Mention.objects.get(source=source, external_id="2")
    assert one.rank > two.rank and one.priority > two.priority
    again = services.ingest(source, batch)
    assert (again.created, again.duplicates) == (0, 2)
    assert Mention.objects.count() == 2
    source.refresh_from_db()
    assert source.mention_count == 2
    received = OutboxEvent.objects.filter(name="mention.received")
    assert sum(max(e.batch_size, 1) for e in received) == 2


def test_the_unique_constraint_is_the_arbiter_when_the_early_check_misses(source, monkeypatch):
    services.ingest(source, [m("1")])
    # A racing worker stored "1" after our early check: the insert must still skip it.
    monkeypatch.setattr(services, "_existing_ids", lambda source: lambda ids: set())
    result = services.ingest(source, [m("1"), m("2", "another post entirely here")])
    assert (result.created, result.duplicates) == (1, 1)
    assert Mention.objects.filter(external_id="1").count() == 1


def test_near_duplicates_are_stored_linked_and_kept_out_of_the_queue(source):
    services.ingest(source, [m("1", "The checkout page has been broken for two days now")])
    result = services.ingest(
        source,
        [
            m("2", "RT @ana: The checkout page has been broken for two days now"),
            m("3", "Completely new complaint: the login page is broken for everyone today"),
            m(
                "4",
                "So true!! Completely new complaint: the login page is broken for everyone today",
            ),
        ],
    )
    assert (result.created, result.near_duplicates) == (3, 2)
    original = Mention.objects.get(external_id="1")
    copy = Mention.objects.get(external_id="2")
    assert copy.duplicate_of_id == original.pk and copy.status == MentionStatus.DISMISSED
    assert Mention.objects.get(external_id="4").duplicate_of == Mention.objects.get(external_id="3")
    assert Mention.objects.get(external_id="3").status == MentionStatus.NEW


def test_matched_author_gets_the_mention_on_their_timeline_seen_by_staff_only(
    source, alice, bob, carol
):
    ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    ContactPoint.objects.create(
        party=ana, channel="mastodon", value="@ana@m.social", normalized="ana@m.social"
    )
    result = services.ingest(
        source,
        [
            m("1", author_handle="@Ana@M.social"),
            m(
                "2",
                "mail from ana: broken invoice",
                channel="case_mail",
                author_handle="Ana@Example.com",
            ),
            m("3", author_handle="@stranger@m.social"),
        ],
    )
    assert result.matched == 2
    mention = Mention.objects.get(external_id="1")
    assert mention.person == ana and mention.interaction is not None
    row = mention.interaction
    assert (row.party, row.kind, row.channel, row.related_id) == (
        ana,
        "mention",
        "social",
        mention.pk,
    )
    assert (
        Interaction.objects.get(pk=Mention.objects.get(external_id="2").interaction_id).channel
        == "email"
    )
    assert Mention.objects.get(external_id="3").person is None
    assert OutboxEvent.objects.filter(name="mention.matched").exists()
    assert interaction_access.visible(bob, [row]) == [row]
    assert interaction_access.visible(carol, [row]) == []


def test_merged_or_erased_people_are_not_matched(source, alice):
    ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    ana.status = "erased"
    ana.save(update_fields=["status"])
    services.ingest(source, [m("1", channel="email", author_handle="ana@example.com")])
    assert Mention.objects.get(external_id="1").person is None


def test_new_mentions_are_assigned_by_the_source_queue_round_robin(source, alice, bob, mia):
    from kith.service.models import Queue

    queue = Queue.objects.create(name="Social", assignment_rule=Queue.Rule.ROUND_ROBIN)
    queue.agents.set([bob, mia])
    source.queue = queue
    source.save()
    texts = ["checkout is broken", "I cannot log in since Monday", "my parcel never came"]
    services.ingest(source, [m(str(i), t) for i, t in enumerate(texts)])
    got = list(Mention.objects.order_by("external_id").values_list("assignee__username", "status"))
    assert got == [("bob", "assigned"), ("mia", "assigned"), ("bob", "assigned")]


def test_big_batches_are_stored_in_chunks_with_indexes_of_rejections_kept(source, monkeypatch):
    monkeypatch.setattr(services, "CHUNK", 3)
    items = [m(str(i), f"post {i} about something else {i}") for i in range(7)]
    items[5] = m("", "rejected")
    result = services.ingest(source, items)
    assert result.created == 6
    assert [r.index for r in result.rejected] == [5]


def test_ingest_without_the_sentiment_module_scores_neutral(source, monkeypatch):
    monkeypatch.undo()  # the real score_sentiment
    monkeypatch.setattr(pipeline, "_sentiment_module", lambda: None)
    services.ingest(source, [m("1", "the app is broken")])
    assert Mention.objects.get().sentiment_label == "neutral"
