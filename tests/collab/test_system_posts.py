"""System posts from domain events, grouped into one entry per burst."""

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType

from kith.collab import services, subscribers
from kith.collab.models import Follow, Post
from kith.core import events
from kith.people import services as people_services
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


def _system_posts(party):
    ct = ContentType.objects.get_for_model(party)
    return Post.objects.filter(target_type=ct, target_id=party.pk, kind="system")


def test_role_added_becomes_one_grouped_system_post(alice, bob, deliver):
    ana = make_person(alice, given="Ana", family="Lima")
    services.follow(actor=bob, target=ana)
    people_services.add_relationship(actor=alice, subject=ana, role="customer")
    people_services.add_relationship(actor=alice, subject=ana, role="advocate")
    deliver()
    posts = list(_system_posts(ana))
    assert len(posts) == 1
    assert posts[0].visibility == "internal"
    assert "Became Customer" in posts[0].body_markdown
    assert "Became Advocate" in posts[0].body_markdown
    assert posts[0].author == alice


def test_a_later_change_starts_a_new_entry(alice, deliver, settings):
    settings.KITH_COLLAB_SYSTEM_POST_GROUP_MINUTES = 10
    ana = make_person(alice, given="Ana", family="Lima")
    people_services.add_relationship(actor=alice, subject=ana, role="customer")
    deliver()
    _system_posts(ana).update(created_at=events.timezone.now() - dt.timedelta(minutes=11))
    people_services.add_relationship(actor=alice, subject=ana, role="advocate")
    deliver()
    assert _system_posts(ana).count() == 2


def test_another_actor_starts_a_new_entry(alice, mia, deliver):
    ana = make_person(alice, given="Ana", family="Lima")
    people_services.add_relationship(actor=alice, subject=ana, role="customer")
    people_services.add_relationship(actor=mia, subject=ana, role="advocate")
    deliver()
    assert _system_posts(ana).count() == 2


def test_generic_events_of_other_apps(alice, bob):
    """Any model's event works through the generic reference (here: a Party stands in)."""
    ana = make_person(alice, given="Ana", family="Lima")
    event = events.OutboxEvent(
        name="deal.stage_changed",
        object_type="people.party",
        object_id=ana.pk,
        actor_id=alice.pk,
        data={"from": "Proposal", "to": "Negotiation"},
        occurred_at=events.timezone.now(),
    )
    subscribers.system_post(event)
    post = _system_posts(ana).get()
    assert "Proposal → Negotiation" in post.body_markdown
    # Assignment events follow the assignee named in the data.
    assign = events.OutboxEvent(
        name="case.assigned",
        object_type="people.party",
        object_id=ana.pk,
        actor_id=alice.pk,
        data={"assignee_id": bob.pk},
        occurred_at=events.timezone.now(),
    )
    subscribers.auto_follow(assign)
    ct = ContentType.objects.get_for_model(ana)
    assert Follow.objects.filter(target_type=ct, target_id=ana.pk, follower=bob).exists()


def test_follow_event_types_filter_system_notifications(alice, bob, dan, deliver):
    ana = make_person(alice, given="Ana", family="Lima")
    services.follow(actor=bob, target=ana, event_types=["relationship.created"])
    services.follow(actor=dan, target=ana, event_types=["post"])
    people_services.add_relationship(actor=alice, subject=ana, role="customer")
    deliver()
    assert bob.collab_notifications.filter(verb="system").count() == 1
    assert dan.collab_notifications.count() == 0
