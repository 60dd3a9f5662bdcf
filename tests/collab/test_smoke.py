import pytest

from kith.collab import queries, services
from kith.collab.models import FeedItem, Notification

pytestmark = pytest.mark.django_db


def test_post_mention_feed(alice, bob, carol):
    from tests.conftest import make_person

    ana = make_person(alice, given="Ana", family="Lima")
    post = services.create_post(actor=alice, target=ana, body="Hi @bob see #Launch **now**")
    assert "<strong>now</strong>" in post.body_html
    assert Notification.objects.filter(user=bob, verb="mention").count() == 1
    assert FeedItem.objects.filter(user=bob, post=post, mention=True).exists()
    page = queries.my_feed(bob)
    assert [p.pk for p in page.items] == [post.pk]
    assert list(post.topics.values_list("slug", flat=True)) == ["launch"]
