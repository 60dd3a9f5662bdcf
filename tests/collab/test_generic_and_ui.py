"""Feeds on any record through the generic reference, and the embeddable widget."""

import pytest
from django.template import Context, Template

from kith.collab import services
from kith.interactions import services as interaction_services
from tests.conftest import make_org, make_person

pytestmark = pytest.mark.django_db


def test_organisation_feed(alice, bob, api_as):
    acme = make_org(alice, "Acme Ltd")
    client = api_as(bob)
    res = client.post(f"/api/feeds/organization/{acme.public_id}/posts", {"body": "Renewal #q3"})
    assert res.status_code == 201
    assert res.json()["target"]["kind"] == "organization"
    assert len(client.get(f"/api/feeds/organization/{acme.public_id}").json()["items"]) == 1
    # The kind must match the record.
    assert client.get(f"/api/feeds/person/{acme.public_id}").status_code == 404


def test_any_kith_record_gets_a_feed_through_its_apps_access_rules(alice, bob, carol, api_as):
    """kith.interactions.access.get_interaction is found by convention: no import here."""
    ana = make_person(alice, given="Ana", family="Lima")
    call, _ = interaction_services.log_interaction(
        actor=alice, party=ana, channel="call", summary="Discovery call"
    )
    url = f"/api/feeds/interactions.interaction/{call.public_id}"
    assert api_as(bob).post(url + "/posts", {"body": "Notes from the call"}).status_code == 201
    assert len(api_as(bob).get(url).json()["items"]) == 1
    assert api_as(carol).get(url).status_code == 404


@pytest.mark.parametrize("kind", ["accounts.user", "core.outboxevent", "auth.permission", "x.y"])
def test_non_records_have_no_feed(bob, api_as, kind):
    res = api_as(bob).get(f"/api/feeds/{kind}/00000000-0000-0000-0000-000000000000")
    assert res.status_code == 404


def test_embed_snippet_points_at_the_widget(alice, client, bob):
    ana = make_person(alice, given="Ana", family="Lima")
    services.create_post(actor=alice, target=ana, body="Hello from the widget")
    html = Template('{% include "collab/_embed.html" with target=party %}').render(
        Context({"party": ana})
    )
    url = f"/collab/feed/person/{ana.public_id}/"
    assert f'hx-get="{url}"' in html and "collab.js" in html
    client.force_login(bob)
    widget = client.get(url, headers={"HX-Request": "true"})
    assert widget.status_code == 200 and b"Hello from the widget" in widget.content
    assert b"data-collab-stream" in widget.content


def test_posting_from_the_widget_and_commenting_in_the_ui(alice, bob, client):
    ana = make_person(alice, given="Ana", family="Lima")
    client.force_login(bob)
    url = f"/collab/feed/person/{ana.public_id}/"
    res = client.post(url, {"body": "Posted in the **UI**", "visibility": "internal"})
    assert res.status_code == 302
    page = client.get(f"/collab/records/person/{ana.public_id}/").content.decode()
    assert "<strong>UI</strong>" in page
    bad = client.post(url, {"body": "  "}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and b"required" in bad.content
    from kith.collab.models import Post

    post = Post.objects.get()
    res = client.post(f"/collab/posts/{post.public_id}/comments/", {"body": "A reply"})
    assert res.status_code == 302
    assert "A reply" in client.get(f"/collab/posts/{post.public_id}/").content.decode()


def test_pages_render(alice, bob, client):
    group = services.create_group(actor=alice, name="Team")
    services.create_post(actor=alice, target=group, body="Hi #welcome")
    client.force_login(alice)
    for url in (
        "/collab/",
        "/collab/?filter=mentions",
        "/collab/groups/",
        f"/collab/groups/{group.public_id}/",
        "/collab/topics/welcome/",
        "/collab/notifications/",
    ):
        assert client.get(url).status_code == 200, url
    res = client.get("/collab/suggest/", {"q": "bo"})
    assert {"label": "@bob", "insert": "@bob"} in res.json()["items"]


def test_feed_panel_on_person_pages(alice, bob, client):
    ana = make_person(alice, given="Ana", family="Lima")
    services.create_post(actor=alice, target=ana, body="Seen on the person page")
    client.force_login(bob)
    page = client.get(f"/people/{ana.public_id}/").content.decode()
    assert "Seen on the person page" in page
    assert f'data-collab-feed="person:{ana.public_id}"' in page
