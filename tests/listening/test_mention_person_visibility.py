"""A mention matched to a person shows that person only to those who may see them.

Bob (an agent) owns a private person, "Secret Client"; a mention is matched to them.
Dan (another agent) reads every mention (listening is shared knowledge) but may not see
bob's private person (GET /api/people/{id} answers 404 for him), so no listening page,
API answer or download tells dan the person's name or id, and filtering mentions by that
person's id answers as for an id that does not exist. Bob, the owner, and alice, an
admin, still see the match.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from kith.listening.models import Mention, Source
from tests.conftest import client_for, make_person

pytestmark = pytest.mark.django_db

SECRET = "Secret Client"


@pytest.fixture
def source(db) -> Source:
    return Source.objects.create(kind="webhook", name="Hook", first_response_minutes=60)


@pytest.fixture
def secret(bob):
    person = make_person(bob, given="Secret", family="Client", owner=bob, visibility="private")
    assert person.display_name == SECRET
    return person


def _mention(source: Source, person, ext: str = "e1") -> Mention:
    return Mention.objects.create(
        source=source,
        external_id=ext,
        channel="mastodon",
        text="my order arrived broken",
        author_handle=f"@client{ext}@m.social",
        author_name="client",
        published_at=timezone.now() - dt.timedelta(minutes=5),
        received_at=timezone.now(),
        person=person,
    )


@pytest.fixture
def matched(source, secret) -> Mention:
    return _mention(source, secret)


def _hides(body: str, person) -> None:
    assert SECRET not in body
    assert str(person.public_id) not in body


def test_api_mention_detail_hides_a_person_the_reader_may_not_see(
    api_as, bob, dan, alice, secret, matched
):
    # The probe: dan may not see the person itself.
    assert api_as(dan).get(f"/api/people/{secret.public_id}").status_code == 404
    path = f"/api/listening/mentions/{matched.public_id}"
    response = api_as(dan).get(path)
    assert response.status_code == 200
    assert response.json()["person"] is None
    _hides(response.content.decode(), secret)

    for reader in (bob, alice):
        seen = api_as(reader).get(path).json()["person"]
        assert seen == {"id": str(secret.public_id), "name": SECRET}


def test_api_mention_list_and_queue_hide_a_person_the_reader_may_not_see(
    api_as, bob, dan, secret, matched
):
    for path in ("/api/listening/mentions", "/api/listening/queue"):
        response = api_as(dan).get(path)
        assert response.status_code == 200, path
        items = response.json()["items"]
        assert [i["id"] for i in items] == [str(matched.public_id)], path
        assert items[0]["person"] is None, path
        _hides(response.content.decode(), secret)

        items = api_as(bob).get(path).json()["items"]
        assert items[0]["person"] == {"id": str(secret.public_id), "name": SECRET}, path


def test_api_action_answer_hides_a_person_the_actor_may_not_see(api_as, dan, secret, matched):
    response = api_as(dan).post(
        f"/api/listening/mentions/{matched.public_id}/assign", {"assignee": "dan"}
    )
    assert response.status_code == 200
    assert response.json()["person"] is None
    _hides(response.content.decode(), secret)


def test_person_filter_answers_for_an_invisible_person_as_for_an_unknown_one(
    api_as, bob, dan, secret, matched
):
    for path in ("/api/listening/mentions", "/api/listening/queue"):
        unknown = api_as(dan).get(path, person=str(uuid.uuid4()))
        invisible = api_as(dan).get(path, person=str(secret.public_id))
        assert unknown.status_code == invisible.status_code == 200, path
        assert unknown.json() == invisible.json() == {"items": [], "next_cursor": None}, path

        mine = api_as(bob).get(path, person=str(secret.public_id)).json()["items"]
        assert [i["id"] for i in mine] == [str(matched.public_id)], path


def test_queue_page_and_rows_hide_a_person_the_reader_may_not_see(bob, dan, secret, matched):
    for path in ("/listening/", "/listening/queue/rows/"):
        response = client_for(dan).get(path)
        assert response.status_code == 200, path
        body = response.content.decode()
        assert str(matched.public_id) in body, path  # the mention itself is shown
        _hides(body, secret)

        body = client_for(bob).get(path).content.decode()
        assert SECRET in body and f"/people/{secret.public_id}/" in body, path


def test_queue_rows_check_visibility_without_a_query_per_row(
    bob, dan, alice, secret, matched, source
):
    """More matched rows, of visible and invisible people, cost no more queries."""
    client = client_for(dan)

    def queries_for_rows() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            body = client.get("/listening/queue/rows/").content.decode()
        _hides(body, secret)
        return len(ctx)

    before = queries_for_rows()
    for n in range(4):
        other = make_person(
            bob, given=f"Hidden{n}", family="Client", owner=bob, visibility="private"
        )
        _mention(source, other, ext=f"h{n}")
        _mention(source, make_person(alice, given=f"Open{n}", family="Client"), ext=f"o{n}")
    body = client.get("/listening/queue/rows/").content.decode()
    assert "Open0 Client" in body and "Hidden0" not in body
    assert queries_for_rows() == before


def test_mention_page_hides_a_person_the_reader_may_not_see(bob, dan, secret, matched):
    path = f"/listening/mentions/{matched.public_id}/"
    response = client_for(dan).get(path)
    assert response.status_code == 200
    _hides(response.content.decode(), secret)

    body = client_for(bob).get(path).content.decode()
    assert SECRET in body and f"/people/{secret.public_id}/" in body


def test_dashboard_top_authors_hide_a_person_the_reader_may_not_see(bob, dan, secret, matched):
    response = client_for(dan).get("/listening/dashboards/")
    assert response.status_code == 200
    body = response.content.decode()
    assert matched.author_handle in body
    _hides(body, secret)

    csv = client_for(dan).get("/listening/dashboards/top-authors.csv")
    assert csv.status_code == 200
    assert matched.author_handle in csv.content.decode()
    _hides(csv.content.decode(), secret)

    assert SECRET in client_for(bob).get("/listening/dashboards/").content.decode()
    assert SECRET in client_for(bob).get("/listening/dashboards/top-authors.csv").content.decode()


def test_converting_does_not_act_on_a_person_the_actor_may_not_see(
    api_as, bob, dan, secret, matched
):
    from kith.service.models import Case

    path = f"/api/listening/mentions/{matched.public_id}/convert"
    refused = api_as(dan).post(path, {"kind": "case"})
    assert refused.status_code == 422, refused.content
    assert [e["field"] for e in refused.json()["errors"]] == ["person"]
    _hides(refused.content.decode(), secret)
    assert not Case.objects.filter(requester=secret).exists()
    # The owner converts it as before.
    done = api_as(bob).post(path, {"kind": "case"})
    assert done.status_code == 200, done.content
    assert Case.objects.filter(requester=secret).count() == 1
