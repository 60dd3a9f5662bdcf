"""Posts and comments through the API: create, edit with history, soft delete (audited),
reactions, attachments (size and type limits), my feed filters and cursor pagination."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kith.collab import services
from kith.collab.models import Attachment, FeedItem, Post
from kith.core.errors import ValidationFailed
from kith.core.models import AuditEntry
from tests.conftest import make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(alice):
    return make_person(alice, given="Ana", family="Lima")


def test_create_edit_history_and_soft_delete(alice, bob, ana, api_as):
    client = api_as(bob)
    res = client.post(f"/api/feeds/person/{ana.public_id}/posts", {"body": "First *draft*"})
    assert res.status_code == 201, res.content
    post_id = res.json()["id"]
    assert "<em>draft</em>" in res.json()["html"]
    res = client.patch(f"/api/posts/{post_id}", {"body": "Final text"})
    assert res.status_code == 200 and res.json()["edited_at"]
    revisions = client.get(f"/api/posts/{post_id}/revisions").json()["items"]
    assert [r["body"] for r in revisions] == ["First *draft*"]
    # Only the author edits.
    assert api_as(alice).patch(f"/api/posts/{post_id}", {"body": "x"}).status_code == 403
    assert client.delete(f"/api/posts/{post_id}").status_code == 204
    assert client.get(f"/api/posts/{post_id}").status_code == 404
    post = Post.objects.get(public_id=post_id)
    assert post.deleted_at and post.deleted_by == bob  # soft: the row stays
    assert AuditEntry.objects.filter(action="post.deleted", object_id=post.pk).exists()
    assert client.get(f"/api/feeds/person/{ana.public_id}").json()["items"] == []


def test_idempotent_post_creation(bob, ana, api_as):
    client = api_as(bob)
    headers = {"Idempotency-Key": "abc-123"}
    url = f"/api/feeds/person/{ana.public_id}/posts"
    one = client.post(url, {"body": "Once"}, headers=headers)
    two = client.post(url, {"body": "Once"}, headers=headers)
    assert one.json()["id"] == two.json()["id"]
    assert Post.objects.count() == 1


def test_validation_errors_name_the_field(bob, ana, api_as):
    client = api_as(bob)
    url = f"/api/feeds/person/{ana.public_id}/posts"
    res = client.post(url, {"body": "   "})
    assert res.status_code == 422 and res.json()["errors"][0]["field"] == "body"
    res = client.post(url, {"body": "x", "visibility": "everyone"})
    assert res.status_code == 422 and res.json()["errors"][0]["field"] == "visibility"
    assert client.get("/api/feeds/spaceship/" + str(ana.public_id)).status_code == 404
    assert client.get("/api/feed", filter="bogus").status_code == 422


def test_comments_and_reactions(alice, bob, ana, api_as):
    post = services.create_post(actor=alice, target=ana, body="Question")
    client = api_as(bob)
    res = client.post(f"/api/posts/{post.public_id}/comments", {"body": "Answer"})
    assert res.status_code == 201
    assert client.get(f"/api/posts/{post.public_id}").json()["comment_count"] == 1
    assert client.post(f"/api/posts/{post.public_id}/reactions", {"emoji": "👍"}).status_code == 201
    again = client.post(f"/api/posts/{post.public_id}/reactions", {"emoji": "👍"})
    assert again.status_code == 200  # unique per post, user and emoji
    assert again.json()["reactions"] == [{"emoji": "👍", "count": 1, "mine": True}]
    assert (
        client.post(f"/api/posts/{post.public_id}/reactions", {"emoji": "<b>"}).status_code == 422
    )
    assert client.delete(f"/api/posts/{post.public_id}/reactions/👍").status_code == 204


def test_attachment_limits(bob, ana, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.KITH_COLLAB_MAX_ATTACHMENT_BYTES = 1024
    post = services.create_post(actor=bob, target=ana, body="With a file")
    ok = services.add_attachment(
        actor=bob, post=post, upload=SimpleUploadedFile("notes.txt", b"hello", "text/plain")
    )
    assert ok.size == 5 and Attachment.objects.count() == 1
    with pytest.raises(ValidationFailed) as big:
        services.add_attachment(
            actor=bob, post=post, upload=SimpleUploadedFile("big.txt", b"x" * 2048, "text/plain")
        )
    assert big.value.errors[0].field == "file"
    with pytest.raises(ValidationFailed):  # an HTML page is never accepted
        services.add_attachment(
            actor=bob, post=post, upload=SimpleUploadedFile("x.html", b"<script>", "text/html")
        )
    with pytest.raises(ValidationFailed):  # a renamed file does not pass as a PNG
        services.add_attachment(
            actor=bob, post=post, upload=SimpleUploadedFile("x.png", b"GIF89a....", "image/png")
        )


def test_attachment_download_checks_access(
    alice, bob, carol, carol_person, client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    post = services.create_post(actor=bob, target=carol_person, body="internal file")
    att = services.add_attachment(
        actor=bob, post=post, upload=SimpleUploadedFile("a.txt", b"secret", "text/plain")
    )
    client.force_login(bob)
    res = client.get(f"/collab/attachments/{att.public_id}/")
    assert res.status_code == 200 and b"".join(res.streaming_content) == b"secret"
    assert res["Content-Disposition"].startswith("attachment")
    client.force_login(carol)
    assert client.get(f"/collab/attachments/{att.public_id}/").status_code == 404


def test_my_feed_filters_and_cursor(alice, bob, ana, api_as):
    group = services.create_group(actor=alice, name="Team")
    services.join_group(actor=bob, group=group)
    services.follow(actor=bob, target=ana)
    for i in range(5):
        services.create_post(actor=alice, target=ana, body=f"record post {i}")
    services.create_post(actor=alice, target=group, body="group post")
    services.create_post(actor=alice, target=ana, body="hey @bob")
    client = api_as(bob)
    everything = client.get("/api/feed", limit=3).json()
    assert [i["body"] for i in everything["items"]] == ["hey @bob", "group post", "record post 4"]
    rest = client.get("/api/feed", limit=10, cursor=everything["next_cursor"]).json()
    assert [i["body"] for i in rest["items"]][:1] == ["record post 3"]
    assert rest["next_cursor"] is None and len(rest["items"]) == 4
    mentions = client.get("/api/feed", filter="mentions").json()["items"]
    assert [i["body"] for i in mentions] == ["hey @bob"]
    groups = client.get("/api/feed", filter="groups").json()["items"]
    assert [i["body"] for i in groups] == ["group post"]
    records = client.get("/api/feed", filter="records").json()["items"]
    assert "group post" not in [i["body"] for i in records] and len(records) == 6


def test_unfollow_removes_record_posts_but_keeps_mentions(alice, bob, ana):
    services.follow(actor=bob, target=ana)
    services.create_post(actor=alice, target=ana, body="plain")
    services.create_post(actor=alice, target=ana, body="for @bob")
    services.unfollow(actor=bob, target=ana)
    assert list(
        FeedItem.objects.filter(user=bob).values_list("post__body_markdown", flat=True)
    ) == ["for @bob"]


def test_topic_pages_show_only_visible_posts(alice, bob, carol, carol_person, api_as):
    services.create_post(actor=alice, target=carol_person, body="#pricing internal")
    services.create_post(
        actor=alice, target=carol_person, body="#pricing public", visibility="public"
    )
    staff = api_as(bob).get("/api/topics/pricing/posts").json()["items"]
    assert len(staff) == 2
    customer = api_as(carol).get("/api/topics/pricing/posts").json()["items"]
    assert [p["body"] for p in customer] == ["#pricing public"]
    assert api_as(bob).get("/api/topics", q="pri").json()["items"][0]["slug"] == "pricing"


def test_big_audiences_are_delivered_by_a_task(
    alice, bob, dan, mia, ana, settings, django_capture_on_commit_callbacks
):
    from kith.collab.models import Notification

    settings.KITH_COLLAB_INLINE_FANOUT = 1
    for user in (bob, dan, mia):
        services.follow(actor=user, target=ana)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post = services.create_post(actor=alice, target=ana, body="to many, and @mia")
    # Before the task runs: only the author's copy and the mention are there.
    assert set(FeedItem.objects.filter(post=post).values_list("user__username", flat=True)) == {
        "alice",
        "mia",
    }
    for callback in callbacks:
        callback()  # the immediate task backend runs the delivery now
    assert set(FeedItem.objects.filter(post=post).values_list("user__username", flat=True)) == {
        "alice",
        "bob",
        "dan",
        "mia",
    }
    assert set(Notification.objects.filter(post=post).values_list("user__username", flat=True)) == {
        "bob",
        "dan",
        "mia",
    }
    assert Notification.objects.filter(post=post, user=mia).get().verb == "mention"


def test_my_feed_costs_a_fixed_number_of_queries(
    alice, bob, ana, api_as, django_assert_max_num_queries
):
    from tests.conftest import make_org

    services.follow(actor=bob, target=ana)
    acme = make_org(alice, "Acme")
    services.follow(actor=bob, target=acme)
    for i in range(15):
        services.create_post(actor=alice, target=ana if i % 2 else acme, body=f"#t{i} post {i}")
    client = api_as(bob)
    client.get("/api/feed")  # warm caches (content types)
    with django_assert_max_num_queries(9):
        res = client.get("/api/feed", limit=20)
    assert len(res.json()["items"]) == 15
