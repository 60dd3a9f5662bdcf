"""Editing ideas and idea comments: the author or a moderator (staff who write), the old
text kept as a revision, an "edited" marker, an audit entry; bad input names the field."""

from __future__ import annotations

import pytest

from kith.core.errors import Forbidden, ValidationFailed
from kith.core.models import AuditEntry
from kith.ideas import services
from kith.ideas.models import IdeaRevision
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_the_author_edits_history_marker_and_audit(idea, carol):
    edited = services.edit_idea(actor=carol, idea=idea, title="Export to PDF and CSV")
    assert edited.title == "Export to PDF and CSV" and edited.edited_at is not None
    revision = IdeaRevision.objects.get(idea=idea)
    assert revision.title == "Export to PDF" and revision.body == "Let me export **reports**."
    entry = AuditEntry.objects.get(action="idea.edited")
    assert entry.changes == {"title": ["Export to PDF", "Export to PDF and CSV"]}
    assert entry.party_id == carol.person_id


def test_others_may_not_edit_but_a_moderator_may(idea, cyd, alice, vic):
    with pytest.raises(Forbidden):
        services.edit_idea(actor=cyd, idea=idea, body="Hijacked")
    with pytest.raises(Forbidden):  # a staff viewer reads only
        services.edit_idea(actor=vic, idea=idea, body="Hijacked")
    services.edit_idea(actor=alice, idea=idea, body="Let me export <b>reports</b>.")
    idea.refresh_from_db()
    assert idea.body_html.count("<b>") == 1 and "script" not in idea.body_html


def test_comments_are_edited_by_their_author(idea, carol, cyd):
    comment = services.comment_on_idea(actor=cyd, idea=idea, body="Yes please")
    with pytest.raises(Forbidden):
        services.edit_comment(actor=carol, comment=comment, body="No")
    services.edit_comment(actor=cyd, comment=comment, body="Yes please, as A4")
    comment.refresh_from_db()
    assert comment.body == "Yes please, as A4" and comment.edited_at is not None
    assert IdeaRevision.objects.get(comment=comment).body == "Yes please"
    assert AuditEntry.objects.filter(action="idea.comment_edited").count() == 1


def test_bad_edits_name_the_field(idea, carol):
    with pytest.raises(ValidationFailed) as exc:
        services.edit_idea(actor=carol, idea=idea, title="x" * 201)
    assert [e.field for e in exc.value.errors] == ["title"]
    with pytest.raises(ValidationFailed) as exc:
        services.edit_idea(actor=carol, idea=idea, body="   ")
    assert [e.field for e in exc.value.errors] == ["body"]


def test_edit_over_the_api(api_as, idea, carol, cyd):
    url = f"/api/ideas/{idea.public_id}"
    assert api_as(cyd).patch(url, {"body": "Mine now"}).status_code == 403
    r = api_as(carol).patch(url, {"body": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    r = api_as(carol).patch(url, {"body": "PDF **and** CSV"})
    assert r.status_code == 200, r.content
    assert r.json()["edited_at"] is not None and "<strong>and</strong>" in r.json()["body_html"]
    comment = services.comment_on_idea(actor=cyd, idea=idea, body="+1")
    curl = f"/api/ideas/{idea.public_id}/comments/{comment.public_id}"
    assert api_as(carol).patch(curl, {"body": "-1"}).status_code == 403
    r = api_as(cyd).patch(curl, {"body": "+1, for invoices too"})
    assert r.status_code == 200 and r.json()["edited_at"] is not None
    missing = f"/api/ideas/{idea.public_id}/comments/{idea.public_id}"
    assert api_as(cyd).patch(missing, {"body": "x"}).status_code == 404


def test_edit_in_the_web_ui_shows_the_marker(idea, carol, cyd):
    page = client_for(carol).get(f"/ideas/{idea.public_id}/")
    assert f"/ideas/{idea.public_id}/edit/" in page.content.decode()
    assert client_for(cyd).get(f"/ideas/{idea.public_id}/edit/").status_code == 403
    r = client_for(carol).post(f"/ideas/{idea.public_id}/edit/", {"title": "", "body": "Still PDF"})
    assert r.status_code == 422 and b'id="e-title"' in r.content
    r = client_for(carol).post(
        f"/ideas/{idea.public_id}/edit/", {"title": "PDF export", "body": "Still PDF"}
    )
    assert r.status_code == 302
    assert b"data-edited" in client_for(cyd).get(f"/ideas/{idea.public_id}/").content
