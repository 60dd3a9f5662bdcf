"""Kith's own voices as listening sources: community posts and customers' case messages."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone

from kith.community import services as community
from kith.community.models import Post
from kith.core.errors import ValidationFailed
from kith.listening import pipeline, polling, sources
from kith.listening.models import Mention, Source
from kith.listening.sources import internal
from kith.service import inbound
from kith.service import services as service
from kith.service.models import CaseMessage
from kith.service.services import CaseInput
from tests.community import conftest as community_fixtures

# Carol and Cyd as the community tests know them: customers with portal logins.
carol = community_fixtures.carol
cyd = community_fixtures.cyd

pytestmark = pytest.mark.django_db


def settle() -> None:
    """Age every row past the reader's settling delay (see internal.SETTLE)."""
    past = timezone.now() - internal.SETTLE - dt.timedelta(seconds=1)
    Post.objects.update(created_at=past)
    CaseMessage.objects.update(created_at=past)


@pytest.fixture
def space(alice):
    return community.create_space(actor=alice, name="Help", slug="help", audience="public")


@pytest.fixture
def thread(space, carol, cyd, bob, alice):
    topic = community.create_topic(
        actor=carol,
        space=space,
        title="Kettle lid sticks",
        body="My **Acme** kettle lid sticks after a week.",
    )
    answer = community.reply(actor=cyd, topic=topic, body="Same here, a bit of oil helped.")
    staff = community.reply(actor=bob, topic=topic, body="We are sending replacement lids.")
    staff_room = community.create_space(actor=alice, name="Staff", audience="staff")
    community.create_topic(
        actor=alice, space=staff_room, title="Lid batch 12", body="Internal: recall?"
    )
    settle()
    return topic, answer, staff


def test_community_posts_are_read_after_the_cursor(thread, carol, cyd):
    topic, answer, _staff = thread
    result = internal.fetch_community({"spaces": [], "include_staff": False}, {})

    question, reply = result.items  # staff's reply and the staff-only space left out
    assert question.channel == "community"
    assert question.text == "Kettle lid sticks\n\nMy Acme kettle lid sticks after a week."
    assert (
        question.raw["party_id"] == carol.person_id and question.raw["mirror"] == "community.post"
    )
    assert question.url.endswith(f"/community/t/{topic.public_id}/")
    assert reply.external_id == f"post:{answer.public_id}"
    assert reply.in_reply_to == question.external_id
    assert reply.raw["party_id"] == cyd.person_id
    assert result.state["last_id"] == Post.objects.order_by("-id").first().id

    again = internal.fetch_community({}, result.state)
    assert again.items == [] and again.not_modified


def test_fresh_posts_wait_until_they_settle(space, carol):
    community.create_topic(actor=carol, space=space, title="Fresh question", body="Just now.")
    assert internal.fetch_community({}, {}).items == []
    settle()
    assert [m.text for m in internal.fetch_community({}, {}).items] == [
        "Fresh question\n\nJust now."
    ]


def test_include_staff_and_space_filters(thread, alice, space):
    everything = internal.fetch_community({"include_staff": True}, {})
    assert len(everything.items) == 4
    other = community.create_space(actor=alice, name="Other", slug="other", audience="public")
    only_other = internal.fetch_community({"spaces": [other.slug]}, {})
    assert only_other.items == []
    assert sources.validate_config("community", {"spaces": ["help"]}) == {
        "spaces": ["help"],
        "include_staff": False,
    }
    with pytest.raises(ValidationFailed) as err:
        sources.validate_config("community", {"spaces": ["nope"], "include_staff": "yes"})
    assert {e.field for e in err.value.errors} == {"config.spaces", "config.include_staff"}


EMAIL = b"""From: Dana Miller <dana@customer.example>
To: support@kith.example
Subject: Broken kettle lid
Message-ID: <lid-1@customer.example>
Date: Wed, 02 Dec 2026 09:00:00 +0000
Content-Type: text/plain; charset=utf-8

The lid of my Acme kettle broke on day three. I want a refund.
"""


def test_case_mail_reads_customers_messages_only(alice, bob, carol):
    by_mail = inbound.ingest_email(raw=EMAIL, source="test").case
    portal_case = service.open_case_as_customer(
        actor=carol, subject="Lid again", body="Still sticking."
    )
    service.add_message(
        actor=bob, case=by_mail, kind="reply", body="Sorry! A refund is on its way."
    )
    service.add_message(
        actor=bob, case=by_mail, kind="note", body="Customer is angry; refund approved."
    )
    service.create_case(actor=alice, data=CaseInput(subject="Phone call", requester=carol.person))
    settle()

    result = internal.fetch_case_mail({"queues": []}, {})
    texts = {m.text: m for m in result.items}
    assert set(texts) == {
        "Broken kettle lid\n\nThe lid of my Acme kettle broke on day three. I want a refund.",
        "Lid again\n\nStill sticking.",
    }
    mail = texts[
        "Broken kettle lid\n\nThe lid of my Acme kettle broke on day three. I want a refund."
    ]
    assert mail.channel == "email" and mail.author_handle == "dana@customer.example"
    assert (
        mail.raw["party_id"] == by_mail.requester_id and mail.raw["mirror"] == "service.casemessage"
    )
    assert mail.published_at == dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
    portal = texts["Lid again\n\nStill sticking."]
    assert portal.channel == "portal" and portal.raw["case"] == str(portal_case.public_id)
    # internal notes and staff replies never become mentions
    assert not any("refund approved" in t or "on its way" in t for t in texts)
    assert internal.fetch_case_mail({}, result.state).items == []


def test_internal_sources_through_the_poller_count_every_voice_once(thread, monkeypatch):
    monkeypatch.setattr(pipeline, "score_sentiment", lambda texts: [("neutral", 0.5)] * len(texts))
    source = Source.objects.create(kind="community", name="Our community", config={})
    (outcome,) = polling.poll_due_sources(rng=random.Random(3))
    assert outcome.ok and outcome.created == 2
    mentions = Mention.objects.filter(source=source)
    assert {m.channel for m in mentions} == {"community"}
    Source.objects.filter(pk=source.pk).update(next_poll_at=timezone.now())
    (again,) = polling.poll_due_sources(rng=random.Random(3))
    assert again.ok and again.fetched == 0 and mentions.count() == 2


def test_a_large_backlog_is_read_in_batches(space, carol, monkeypatch):
    monkeypatch.setattr(internal, "BATCH", 2)
    for n in range(3):
        community.create_topic(actor=carol, space=space, title=f"Question {n}", body=f"Body {n}.")
    settle()
    first = internal.fetch_community({}, {})
    assert len(first.items) == 2 and first.state["more"] is True
    second = internal.fetch_community({}, first.state)
    assert [m.text for m in second.items] == ["Question 2\n\nBody 2."] and second.state[
        "more"
    ] is False
