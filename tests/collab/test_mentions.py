"""Mention parsing, rendering and what each mentioned kind of party gets."""

import uuid

import pytest

from kith.collab import rendering, services
from kith.collab.models import FeedItem, Mention, Notification
from kith.interactions.models import Interaction
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


def test_parse_usernames_explicit_mentions_and_topics():
    pid = uuid.uuid4()
    parsed = rendering.parse(
        f"Hi @bob, @Dan. and @[Ana Lima](person:{pid}) — mail ana@example.com "
        "#Launch #q3-plan # heading &#x09; #1nope"
    )
    assert parsed.usernames == ["bob", "dan"]
    assert parsed.party_ids == [pid]
    assert parsed.topics == ["launch", "q3-plan"]


def test_mentions_render_as_links_and_unknown_names_stay_text(alice, bob):
    ana = make_person(alice, given="Ana", family="Lima")
    post = services.create_post(
        actor=alice,
        target=ana,
        body=f"@bob and @nobody and @[X](person:{ana.public_id}) #Pricing",
    )
    assert f'href="/collab/records/person/{ana.public_id}/"' in post.body_html
    assert "@Ana Lima" in post.body_html  # the record's name, not the typed label
    assert "@nobody" in post.body_html and "@bob" in post.body_html
    assert 'href="/collab/topics/pricing/"' in post.body_html


def test_mentioned_staff_user_is_notified_and_gets_it_in_their_feed(alice, bob):
    ana = make_person(alice, given="Ana", family="Lima")
    post = services.create_post(actor=alice, target=ana, body="@bob please call her")
    note = Notification.objects.get(user=bob)
    assert note.verb == "mention" and note.post == post
    assert FeedItem.objects.get(user=bob, post=post).mention


def test_mentioned_portal_user_is_notified_on_a_post_they_can_see(alice, carol, carol_person):
    post = services.create_post(
        actor=alice, target=carol_person, body="Welcome @carol!", visibility="public"
    )
    assert Notification.objects.filter(user=carol, verb="mention", post=post).exists()


def test_mentioned_portal_user_is_not_notified_of_an_internal_post(alice, carol, carol_person):
    post = services.create_post(actor=alice, target=carol_person, body="Careful with @carol")
    assert not Notification.objects.filter(user=carol).exists()
    assert not FeedItem.objects.filter(user=carol, post=post).exists()
    # Staff still see on her timeline that she was mentioned.
    assert Interaction.objects.filter(party=carol_person, kind="mention").exists()


def test_mentioned_person_without_login_gets_a_timeline_entry(alice):
    ana = make_person(alice, given="Ana", family="Lima")
    acme = make_person(alice, given="Bea", family="Souza")
    services.create_post(
        actor=alice, target=acme, body=f"Intro from @[Ana](person:{ana.public_id})"
    )
    entry = Interaction.objects.get(party=ana, kind="mention")
    assert entry.channel == "collaboration"
    assert "Intro from" in entry.summary
    assert Mention.objects.filter(party=ana).count() == 1


def test_mentions_in_comments_notify(alice, bob):
    ana = make_person(alice, given="Ana", family="Lima")
    post = services.create_post(actor=alice, target=ana, body="A post")
    services.create_comment(actor=alice, post=post, body="cc @bob")
    assert Notification.objects.filter(user=bob, verb="mention", comment__isnull=False).exists()


def test_external_authors_posts_land_on_their_timeline(alice, carol, carol_person):
    post = services.create_post(actor=carol, target=carol_person, body="My printer is broken")
    entry = Interaction.objects.get(party=carol_person, kind="post")
    assert entry.channel == "collaboration" and entry.related_id == post.pk
    services.create_comment(actor=carol, post=post, body="Still broken")
    assert Interaction.objects.filter(party=carol_person, kind="comment").count() == 1


def test_staff_posts_do_not_land_on_a_timeline(alice):
    ana = make_person(alice, given="Ana", family="Lima")
    services.create_post(actor=alice, target=ana, body="Internal note")
    assert not Interaction.objects.filter(channel="collaboration").exists()
