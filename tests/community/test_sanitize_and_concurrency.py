"""Every community text field against the collaboration XSS payloads; concurrent votes."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections, connection

from kith.community import services
from kith.community.models import Post, ReputationEvent, Vote
from tests.collab.test_sanitizer import PAYLOADS
from tests.community.conftest import make_trusted
from tests.conftest import client_for


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_community_text_field_is_sanitised(payload, public_space, alice, carol):
    make_trusted(carol)
    topic = services.create_topic(
        actor=carol, space=public_space, title=payload[:200], body=payload, kind="discussion"
    )
    answer = services.reply(actor=alice, topic=topic, body=payload)
    note = services.comment(actor=carol, post=answer, body=payload)
    question = topic.posts.get(kind=Post.Kind.QUESTION)
    edited = services.edit_post(
        actor=carol, post=question, body=payload + " edited", title=payload[:200]
    )
    for html in (answer.body_html, note.body_html, edited.body_html):
        _assert_safe(html)
    # The whole page as a browser gets it: titles, bodies, comments, tags.
    page = client_for(carol).get(f"/community/t/{topic.public_id}/").content.decode()
    _assert_page_safe(page)
    listing = client_for(carol).get(f"/community/s/{public_space.slug}/").content.decode()
    _assert_page_safe(listing)


def _assert_page_safe(page: str) -> None:
    from tests.collab import test_sanitizer as t

    parsed = t._Collect()
    parsed.feed(page)
    for tag, name, value in parsed.attrs:
        assert not name.startswith("on"), (tag, name, value)
        if name in ("href", "src", "action"):
            assert not t._scheme(value).startswith(t.DANGEROUS_SCHEMES), (tag, name, value)
    assert parsed.tags.count("script") == page.count('<script src="/static/'), "inline script"
    for banned in ("iframe", "object", "embed", "svg", "math", "details open", "meta http-equiv"):
        assert f"<{banned}" not in page.lower(), banned


def _assert_safe(html: str) -> None:
    from tests.collab import test_sanitizer as t

    parsed = t._Collect()
    parsed.feed(html)
    assert "script" not in parsed.tags and "iframe" not in parsed.tags, html
    for _tag, name, value in parsed.attrs:
        assert not name.startswith("on"), html
        if name in ("href", "src"):
            assert not t._scheme(value).startswith(t.DANGEROUS_SCHEMES), html


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_votes_by_one_person_make_one_vote(restore_migration_seed):
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL")
    from kith.accounts import services as account_services
    from kith.accounts.models import Role
    from tests.community.conftest import portal_user

    admin = account_services.create_user(
        actor=None, username="adm", password="x" * 12, role=Role.ADMIN
    )
    space = services.create_space(actor=admin, name="Race")
    voter = portal_user("racer")
    author = portal_user("writer")
    make_trusted(voter)
    make_trusted(author, reputation=0)
    topic = services.create_topic(actor=admin, space=space, title="Race", body="race")
    answer = services.reply(actor=author, topic=topic, body="answer")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def cast():
        try:
            barrier.wait()
            services.vote(actor=voter, post=answer, value=1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=cast) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert Vote.objects.filter(post=answer, voter=voter).count() == 1
    assert Post.objects.get(pk=answer.pk).score == 1
    assert ReputationEvent.objects.filter(user=author).count() == 1
    assert services.reputation_from_ledger(author) == 10
