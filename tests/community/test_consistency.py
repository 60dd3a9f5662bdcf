"""``kith check`` on the community: cached reputation against the ledger; a post deleted
twice (two requests at once) moves the topic's answer counter once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from kith.community import consistency, services
from kith.community.models import MemberProfile, Post, ReputationEvent, Topic

pytestmark = pytest.mark.django_db


def _check(*args: str) -> int:
    try:
        call_command(
            "check_consistency", "--only", "community.reputation", *args, stdout=io.StringIO()
        )
        return 0
    except SystemExit as exc:
        return exc.code


def test_cached_reputation_drift_is_reported_and_repaired(cyd, public_space):
    profile = services.ensure_profile(cyd)
    ReputationEvent.objects.create(
        user=cyd, space=public_space, action="test", points=25, created_at=timezone.now()
    )
    MemberProfile.objects.filter(pk=profile.pk).update(reputation=25)
    assert consistency.reputation_drift() == []
    assert _check() == 0
    MemberProfile.objects.filter(pk=profile.pk).update(reputation=999)
    [drift] = consistency.reputation_drift()
    assert drift.detail == "reputation stored 999, ledger 25"
    assert _check() == 1
    assert _check("--fix") == 1
    assert MemberProfile.objects.get(pk=profile.pk).reputation == 25
    assert _check() == 0


def test_deleting_an_answer_twice_counts_once(alice, cyd, public_space):
    topic = services.create_topic(
        actor=alice, space=public_space, title="How do I export?", body="Is there a CSV?"
    )
    answer = services.reply(actor=alice, topic=topic, body="Yes: People, then Export.")
    services.reply(actor=alice, topic=topic, body="Or use the API.")
    stale = Post.objects.get(pk=answer.pk)  # a second request's copy
    services.delete_post(actor=alice, post=answer)
    services.delete_post(actor=alice, post=stale)
    assert Topic.objects.get(pk=topic.pk).reply_count == 1
