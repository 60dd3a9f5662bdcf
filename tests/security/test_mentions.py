"""Mentions resolve through the author's access: no real name, no mention row and no
notification for a record or login the author may not see."""

from __future__ import annotations

import pytest

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.collab import services
from kith.collab.models import Mention, Notification
from kith.interactions.models import Interaction
from tests.conftest import PASSWORD, make_person


@pytest.fixture
def secret(dan):
    """A private person of dan's: bob (another agent) may not see them."""
    return make_person(dan, given="Zelda", family="Hidden", owner=dan, visibility="private")


@pytest.fixture
def secret_login(secret):
    return account_services.create_user(
        actor=None,
        username="zelda",
        password=PASSWORD,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=secret,
    )


def test_agent_mentioning_invisible_person_gets_no_name_and_no_rows(alice, bob, secret):
    ana = make_person(alice, given="Ana", family="Lima")
    post = services.create_post(
        actor=bob, target=ana, body=f"cc @[someone](person:{secret.public_id}) please"
    )
    assert "Zelda" not in post.body_html
    assert "Hidden" not in post.body_html
    assert "someone" in post.body_html
    assert not Mention.objects.filter(party=secret).exists()
    assert not Interaction.objects.filter(party=secret, kind="mention").exists()


def test_agent_mentioning_visible_person_links_the_name(alice, bob):
    ana = make_person(alice, given="Ana", family="Lima")
    bea = make_person(alice, given="Bea", family="Costa")
    post = services.create_post(actor=bob, target=ana, body=f"ask @[x](person:{bea.public_id})")
    assert "Bea Costa" in post.body_html
    assert Mention.objects.filter(post=post, party=bea).exists()


def test_agent_mentioning_invisible_customer_login_notifies_nobody(alice, bob, secret_login):
    ana = make_person(alice, given="Ana", family="Lima")
    post = services.create_post(
        actor=bob,
        target=ana,
        body=f"@[you](user:{secret_login.public_id}) and @zelda",
        visibility="public",
    )
    assert "zelda" not in post.body_html.lower().replace("@zelda", "")
    assert not Mention.objects.filter(user=secret_login).exists()
    assert not Notification.objects.filter(user=secret_login).exists()


def test_customer_cannot_reveal_names_by_mentioning_ids(alice, carol, carol_person, secret):
    other = make_person(alice, given="Olga", family="Other")
    post = services.create_post(
        actor=carol,
        target=carol_person,
        body=f"hi @[a](person:{secret.public_id}) @[b](person:{other.public_id})",
    )
    for name in ("Zelda", "Hidden", "Olga", "Other"):
        assert name not in post.body_html
    assert not Mention.objects.filter(post=post).exists()


def test_customer_cannot_reveal_another_customers_login(alice, carol, carol_person, secret_login):
    post = services.create_post(
        actor=carol, target=carol_person, body=f"hey @[x](user:{secret_login.public_id})"
    )
    assert "zelda" not in post.body_html.lower()
    assert not Notification.objects.filter(user=secret_login).exists()


def test_comment_mentions_follow_the_same_rule(alice, bob, secret):
    ana = make_person(alice, given="Ana", family="Lima")
    post = services.create_post(actor=alice, target=ana, body="thread")
    comment = services.create_comment(
        actor=bob, post=post, body=f"see @[them](person:{secret.public_id})"
    )
    assert "Zelda" not in comment.body_html
    assert not Mention.objects.filter(comment=comment).exists()
