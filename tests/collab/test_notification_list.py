"""The notification list renders Markdown and has a fragment the page refreshes live.

Before, the list showed "**Alice** mentioned you" with its asterisks, and new rows
needed a reload (only the badge followed the stream).
"""

from __future__ import annotations

import pytest

from kith.collab import services
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_markdown_is_rendered_inline_and_safely(alice, bob):
    services.notify(
        user=bob,
        verb="mention",
        text="**Alice** mentioned you in `Acme` <script>alert(1)</script> [x](javascript:alert(1))",
        actor=alice,
    )
    html = client_for(bob).get("/collab/notifications/").content.decode()
    assert "<strong>Alice</strong> mentioned you in <code>Acme</code>" in html
    assert "**Alice**" not in html
    assert "<script>alert(1)" not in html
    assert 'href="javascript' not in html
    assert "data-collab-notifications=" in html


def test_the_list_fragment_holds_a_new_notification(alice, bob):
    client = client_for(bob)
    assert "Fresh one" not in client.get("/collab/notifications/list/").content.decode()
    services.notify(user=bob, verb="mention", text="_Fresh one_", actor=alice)
    fragment = client.get("/collab/notifications/list/").content.decode()
    assert fragment.lstrip().startswith("<ol")
    assert "<em>Fresh one</em>" in fragment
    # Only one's own notifications.
    assert "Fresh one" not in client_for(alice).get("/collab/notifications/list/").content.decode()
