"""Idea pages: the customer's (portal layout) and staff's (staff layout, triage tools),
the person-page panel, access and XSS."""

from __future__ import annotations

import pytest

from kith.ideas import services
from kith.ideas.models import Category, Idea, IdeaVote
from tests.conftest import client_for, party_page

pytestmark = pytest.mark.django_db

XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def test_customer_proposes_and_votes_in_the_portal_layout(carol, cyd, category):
    client = client_for(carol)
    page = client.get("/ideas/")
    assert page.status_code == 200 and b"p-topbar" in page.content  # the portal layout
    res = client.post(
        "/ideas/new/", {"title": "Dark mode", "body": "Please " + XSS, "category": category.slug}
    )
    idea = Idea.objects.get()
    assert res.status_code == 302 and res["Location"] == f"/ideas/{idea.public_id}/"
    html = client_for(cyd).get(f"/ideas/{idea.public_id}/").content.decode()
    assert "<script>alert(2)" not in html and "onerror" not in html
    assert "data-staff-tools" not in html  # customers see no triage tools
    client_for(cyd).post(f"/ideas/{idea.public_id}/vote/")
    client_for(cyd).post(f"/ideas/{idea.public_id}/vote/")
    assert IdeaVote.objects.filter(idea=idea).count() == 1
    mine = client_for(cyd).get("/ideas/mine/").content.decode()
    assert "Dark mode" in mine


def test_new_idea_form_shows_field_errors(carol, category):
    res = client_for(carol).post("/ideas/new/", {"title": "", "body": "", "category": "nope"})
    assert res.status_code == 422
    assert b"Choose a category." in res.content
    assert not Idea.objects.exists()


def test_staff_moves_merges_and_credits(bob, carol, cyd, idea, category):
    client = client_for(bob)
    html = client.get(f"/ideas/{idea.public_id}/").content.decode()
    assert "data-staff-tools" in html and "data-status-form" in html
    client.post(f"/ideas/{idea.public_id}/status/", {"status": "planned", "note": "Soon"})
    idea.refresh_from_db()
    assert idea.status == "planned" and idea.status_note == "Soon"
    client.post(f"/ideas/{idea.public_id}/credit/", {"username": "cyd", "contribution": "Mockups"})
    dup = services.create_idea(actor=cyd, title="PDF please", body="b", category=category)
    res = client.post(f"/ideas/{dup.public_id}/merge/", {"into": f"/ideas/{idea.public_id}/"})
    assert res["Location"] == f"/ideas/{idea.public_id}/"
    dup.refresh_from_db()
    assert dup.merged_into_id == idea.pk
    board = client.get("/ideas/board/").content.decode()
    assert "Export to PDF" in board and "PDF please" not in board
    page = client_for(carol).get(f"/ideas/{idea.public_id}/").content.decode()
    assert "Mockups" in page and "Soon" in page


def test_a_customer_cannot_triage_and_anonymous_is_sent_to_log_in(carol, idea, client):
    res = client_for(carol).post(f"/ideas/{idea.public_id}/status/", {"status": "planned"})
    assert res.status_code == 404
    idea.refresh_from_db()
    assert idea.status == "new"
    assert client_for(carol).get("/ideas/board/").status_code == 404
    assert client.get("/ideas/").status_code == 302


def test_person_page_panel(alice, carol, idea):
    html = party_page(alice, carol.person)
    assert 'id="ideas-panel"' in html and "Export to PDF" in html


def test_admins_edit_vote_budgets_others_cannot(alice, bob, carol, category):
    client = client_for(alice)
    assert b"Reporting" in client.get("/ideas/categories/").content
    client.post("/ideas/categories/", {"category": category.slug, "vote_budget": "3"})
    category.refresh_from_db()
    assert category.vote_budget == 3
    res = client.post("/ideas/categories/", {"category": category.slug, "vote_budget": "0"})
    assert res.status_code == 422
    client.post("/ideas/categories/", {"name": "Mobile", "vote_budget": ""})
    assert Category.objects.filter(slug="mobile", vote_budget__isnull=True).exists()
    assert client_for(bob).get("/ideas/categories/").status_code == 403
    assert client_for(carol).get("/ideas/categories/").status_code == 404
