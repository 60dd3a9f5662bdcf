"""Every idea text field (title, body, comment, status note, credit) against the
collaboration XSS payloads, through the services and the rendered pages."""

from __future__ import annotations

import re

import pytest

from kith.ideas import services
from kith.ideas.models import Status
from tests.collab.test_sanitizer import PAYLOADS
from tests.community.test_sanitize_and_concurrency import _assert_page_safe, _assert_safe
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
# The staff layout's own favicon (an SVG data URL) and icons (inline SVG) are not user
# content: staff pages are checked inside <main>, customer pages whole.
MAIN = re.compile(r"<main\b.*</main>", re.DOTALL)


def _safe(response, *, staff: bool = False) -> None:
    page = response.content.decode()
    if staff:
        page = MAIN.search(page).group(0)
    _assert_page_safe(page)


def test_every_idea_text_field_is_sanitised(carol, cyd, bob, category):
    tracked = services.create_idea(actor=carol, title="Notes", body="n", category=category)
    ideas = []
    for n, payload in enumerate(PAYLOADS):
        idea = services.create_idea(
            actor=carol, title=payload[:200], body=payload, category=category
        )
        comment = services.comment_on_idea(actor=cyd, idea=idea, body=payload)
        status = Status.UNDER_REVIEW if n % 2 == 0 else Status.NEW
        tracked = services.change_status(actor=bob, idea=tracked, status=status, note=payload)
        _assert_safe(idea.body_html)
        _assert_safe(comment.body_html)
        _assert_safe(tracked.status_note_html)
        ideas.append(idea)
    services.credit_contributor(actor=bob, idea=tracked, user=cyd, contribution=PAYLOADS[0])
    customer, staff = client_for(cyd), client_for(bob)
    for idea in ideas:
        _safe(customer.get(f"/ideas/{idea.public_id}/"))
    for client, is_staff in ((customer, False), (staff, True)):
        _safe(client.get(f"/ideas/{tracked.public_id}/"), staff=is_staff)
        _safe(client.get("/ideas/?rank=new"), staff=is_staff)
    _safe(staff.get("/ideas/board/"), staff=True)
    _safe(client_for(carol).get("/ideas/mine/"))
