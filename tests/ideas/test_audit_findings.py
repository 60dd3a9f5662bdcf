"""Defects found by an audit of kith.ideas, each pinned by a test that failed before its fix."""

from __future__ import annotations

import pytest

from kith.core.errors import ValidationFailed
from kith.ideas import access, services
from kith.ideas.models import Idea, IdeaComment
from tests.conftest import client_for, signed_up_customer


def test_a_customers_email_address_is_not_shown_to_other_customers(
    api_as, idea, category, cyd, alice
):
    erin = signed_up_customer("erin@example.com", family="Customer")
    hers = services.create_idea(actor=erin, title="Dark mode", body="Please.", category=category)
    services.comment_on_idea(actor=erin, idea=idea, body="Me too")
    services.credit_contributor(actor=alice, idea=idea, user=erin, contribution="Mockups")
    api = api_as(cyd)
    web = client_for(cyd)
    pages = [
        api.get(f"/api/ideas/{hers.public_id}"),
        api.get(f"/api/ideas/{idea.public_id}"),
        api.get(f"/api/ideas/{idea.public_id}/comments"),
        api.get("/api/ideas"),
        web.get(f"/ideas/{hers.public_id}/"),
        web.get(f"/ideas/{idea.public_id}/"),
    ]
    for response in pages:
        assert response.status_code == 200
        assert "erin@example.com" not in response.content.decode(), response.request["PATH_INFO"]


def test_editing_a_stale_copy_of_a_merged_idea_is_refused(carol, alice, category, idea):
    other = services.create_idea(actor=carol, title="PDF export", body="Same", category=category)
    stale = access.get_idea(carol, other.public_id)  # the edit form, loaded before the merge
    services.merge_ideas(actor=alice, source=other, target=idea)
    with pytest.raises(ValidationFailed):
        services.edit_idea(actor=carol, idea=stale, body="Changed after the merge")
    assert Idea.objects.get(pk=other.pk).body == "Same"


def test_commenting_on_a_stale_copy_of_a_merged_idea_is_refused(cyd, carol, alice, category, idea):
    other = services.create_idea(actor=carol, title="PDF export", body="Same", category=category)
    stale = access.get_idea(cyd, other.public_id)  # the page, loaded before the merge
    services.merge_ideas(actor=alice, source=other, target=idea)
    with pytest.raises(ValidationFailed):
        services.comment_on_idea(actor=cyd, idea=stale, body="Lost on a merged idea")
    assert not IdeaComment.objects.filter(idea=other).exists()
    assert Idea.objects.get(pk=other.pk).comment_count == 0
