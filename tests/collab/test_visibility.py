"""The visibility matrix: staff, partner and customer × internal, group and public posts,
checked at the access layer, through the API and in the web UI."""

import pytest

from kith.collab import access, queries, services
from kith.collab.models import FeedItem
from tests.conftest import make_person

pytestmark = pytest.mark.django_db

READERS = ("bob", "pat", "carol")
EXPECTED = {
    # reader: which of the group's posts they see
    "bob": {"internal", "group", "public"},
    "pat": {"group", "public"},
    "carol": {"group", "public"},
}


@pytest.fixture
def world(alice, bob, carol, pat, customer_group):
    posts = {
        vis: services.create_post(
            actor=bob, target=customer_group, body=f"{vis} post in the council", visibility=vis
        )
        for vis in ("internal", "group", "public")
    }
    other = services.create_group(actor=alice, name="Other customers", kind="customer")
    services.invite(actor=alice, group=other, user=bob)
    services.respond_invitation(actor=bob, group=other, accept=True)
    elsewhere = services.create_post(
        actor=bob, target=other, body="public post elsewhere", visibility="public"
    )
    ana = make_person(alice, given="Ana", family="Lima")
    on_record = {
        vis: services.create_post(actor=bob, target=ana, body=f"{vis} note on Ana", visibility=vis)
        for vis in ("internal", "public")
    }
    return {
        "users": {"bob": bob, "pat": pat, "carol": carol},
        "group": customer_group,
        "posts": posts,
        "elsewhere": elsewhere,
        "ana": ana,
        "on_record": on_record,
    }


@pytest.mark.parametrize("reader", READERS)
def test_access_layer_matrix(world, reader):
    user = world["users"][reader]
    for vis, post in world["posts"].items():
        assert access.can_see_post(user, post) == (vis in EXPECTED[reader]), (reader, vis)
    feed = {p.pk for p in queries.record_feed(user, world["group"]).items}
    assert feed == {world["posts"][v].pk for v in EXPECTED[reader]}
    # Customers and partners in a group see only that group's posts.
    external = reader != "bob"
    assert access.can_see_post(user, world["elsewhere"]) is not external
    for post in world["on_record"].values():
        assert access.can_see_post(user, post) is not external


@pytest.mark.parametrize("reader", READERS)
def test_my_feed_matrix(world, reader):
    user = world["users"][reader]
    got = {p.pk for p in queries.my_feed(user, limit=50).items}
    want = {world["posts"][v].pk for v in EXPECTED[reader]}
    assert want <= got
    if reader != "bob":
        assert got == want
        assert not FeedItem.objects.filter(user=user, post__visibility="internal").exists()


@pytest.mark.parametrize("reader", READERS)
def test_api_matrix(world, reader, api_as):
    user = world["users"][reader]
    client = api_as(user)
    group_id = world["group"].public_id
    res = client.get(f"/api/feeds/group/{group_id}")
    assert res.status_code == 200, res.content
    seen = {item["body"].split()[0] for item in res.json()["items"]}
    assert seen == EXPECTED[reader]
    for vis, post in world["posts"].items():
        one = client.get(f"/api/posts/{post.public_id}")
        assert one.status_code == (200 if vis in EXPECTED[reader] else 404)
    mine = client.get("/api/feed", limit=50).json()["items"]
    if reader != "bob":
        assert {i["visibility"] for i in mine} <= {"group", "public"}
        # Another group's feed and a staff record's feed are simply not there.
        other = world["elsewhere"].group.public_id
        assert client.get(f"/api/feeds/group/{other}").status_code == 404
        assert client.get(f"/api/feeds/person/{world['ana'].public_id}").status_code == 404


@pytest.mark.parametrize("reader", READERS)
def test_ui_matrix(world, reader, client):
    user = world["users"][reader]
    client.force_login(user)
    page = client.get(f"/collab/groups/{world['group'].public_id}/")
    assert page.status_code == 200
    text = page.content.decode()
    for vis in ("internal", "group", "public"):
        assert (f"{vis} post in the council" in text) == (vis in EXPECTED[reader]), (reader, vis)
    my = client.get("/collab/").content.decode()
    assert ("internal post in the council" in my) == (reader == "bob")


def test_external_users_cannot_write_internal_posts(world, api_as):
    res = api_as(world["users"]["carol"]).post(
        f"/api/feeds/group/{world['group'].public_id}/posts",
        {"body": "psst", "visibility": "internal"},
    )
    assert res.status_code == 403


def test_customer_sees_public_posts_on_own_record_only(alice, carol, carol_person):
    internal = services.create_post(actor=alice, target=carol_person, body="internal about Carol")
    public = services.create_post(
        actor=alice, target=carol_person, body="Hello Carol", visibility="public"
    )
    assert not access.can_see_post(carol, internal)
    assert access.can_see_post(carol, public)
    assert [p.pk for p in queries.record_feed(carol, carol_person).items] == [public.pk]


def test_invited_customer_sees_only_public_posts_on_that_record(alice, bob, carol):
    ana = make_person(alice, given="Ana", family="Lima")
    internal = services.create_post(actor=bob, target=ana, body="internal")
    public = services.create_post(actor=bob, target=ana, body="shared", visibility="public")
    assert not access.can_read_feed(carol, ana)
    services.follow(actor=alice, target=ana, follower=carol)  # managers invite customers
    assert access.can_read_feed(carol, ana)
    assert [p.pk for p in queries.record_feed(carol, ana).items] == [public.pk]
    assert not access.can_see_post(carol, internal)


def test_viewers_read_but_cannot_post(alice, vic, api_as):
    ana = make_person(alice, given="Ana", family="Lima")
    services.create_post(actor=alice, target=ana, body="hello")
    client = api_as(vic)
    assert client.get(f"/api/feeds/person/{ana.public_id}").status_code == 200
    res = client.post(f"/api/feeds/person/{ana.public_id}/posts", {"body": "mine"})
    assert res.status_code == 403


def test_agent_cannot_see_feed_of_private_record(alice, bob, dan, api_as):
    secret = make_person(bob, given="Sec", family="Ret", owner=bob, visibility="private")
    services.create_post(actor=bob, target=secret, body="private stuff")
    assert api_as(dan).get(f"/api/feeds/person/{secret.public_id}").status_code == 404
    assert api_as(alice).get(f"/api/feeds/person/{secret.public_id}").status_code == 200
