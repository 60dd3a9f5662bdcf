"""Who may read and act on a mention beyond "every staff user".

* A mention of an internal source mirrors a record with rules of its own (a community
  post in a group space, a customer's case e-mail): a staff user who may not see that
  record does not read the mention through the list, the queue, one mention, the queue
  page, the dashboard's top authors (page and CSV) or the person's timeline.
* An agent who converts a mention into a case can open that case.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kith.collab import services as collab_services
from kith.community import services as community
from kith.interactions.models import Interaction
from kith.listening import pipeline, services
from kith.listening.incoming import IncomingMention
from kith.listening.models import Mention, Source
from kith.people.models import ContactPoint
from kith.service import services as service
from kith.service.services import CaseInput
from tests.community import conftest as community_fixtures
from tests.conftest import client_for, make_person

carol = community_fixtures.carol

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sentiment(monkeypatch):
    def score(texts):
        return [("negative", 0.9) if "broken" in t else ("neutral", 0.5) for t in texts]

    monkeypatch.setattr(pipeline, "score_sentiment", score)


def _item(ext: str, text: str, handle: str, raw: dict, party=None) -> IncomingMention:
    return IncomingMention(
        external_id=ext,
        text=text,
        channel="community" if "post_id" in raw else "email",
        author_handle=handle,
        author_name=handle.split("@")[0],
        published_at=timezone.now() - dt.timedelta(minutes=5),
        raw=raw,
    )


@pytest.fixture
def world(alice, bob, dan, carol):
    """Mentions mirroring records bob may and may not see, from both internal kinds."""
    group = collab_services.create_group(
        actor=alice, name="Beta testers", privacy="private", kind="customer"
    )
    public = community.create_space(actor=alice, name="Help", slug="help", audience="public")
    beta = community.create_space(actor=alice, name="Beta", audience="group", group=group)
    open_topic = community.create_topic(
        actor=alice, space=public, title="Kettle lid", body="Public question about lids."
    )
    closed_topic = community.create_topic(
        actor=alice, space=beta, title="Beta firmware", body="Private beta feedback."
    )
    bobs_queue = service.create_queue(actor=alice, name="Social", agents=[bob])
    other_queue = service.create_queue(actor=alice, name="Billing", agents=[dan])
    seen_case = service.create_case(
        actor=alice, data=CaseInput(subject="Lid", requester=carol.person, queue=bobs_queue)
    )
    hidden_case = service.create_case(
        actor=alice, data=CaseInput(subject="Refund", requester=carol.person, queue=other_queue)
    )
    forum = services.create_source(actor=alice, data={"kind": "community", "name": "Forum"}).source
    mail = services.create_source(actor=alice, data={"kind": "case_mail", "name": "Mail"}).source
    services.ingest(
        forum,
        [
            _item(
                "post:open",
                "public lid question is broken",
                "open-author@example.com",
                {"mirror": "community.post", "post_id": open_topic.posts.get().pk},
            ),
            _item(
                "post:closed",
                "beta firmware is broken",
                "beta-author@example.com",
                {"mirror": "community.post", "post_id": closed_topic.posts.get().pk},
            ),
        ],
    )
    services.ingest(
        mail,
        [
            _item(
                "cm:seen",
                "my lid mail is broken",
                "seen-mailer@example.com",
                {"mirror": "service.casemessage", "case_id": seen_case.pk, "case_message_id": 1},
            ),
            _item(
                "cm:hidden",
                "refund mail is broken",
                "hidden-mailer@example.com",
                {
                    "mirror": "service.casemessage",
                    "case_id": hidden_case.pk,
                    "case_message_id": 2,
                },
            ),
        ],
    )
    return {m.external_id: m for m in Mention.objects.all()}


HIDDEN = ("beta firmware", "refund mail", "beta-author", "hidden-mailer")
SEEN = ("public lid question", "my lid mail", "open-author", "seen-mailer")


def _texts(resp) -> str:
    assert resp.status_code == 200, resp.content[:500]
    return resp.content.decode()


class TestMirroredMentionsFollowTheirRecord:
    def test_the_mirror_is_stored(self, world):
        from django.contrib.contenttypes.models import ContentType

        case_ct = ContentType.objects.get(app_label="service", model="case")
        post_ct = ContentType.objects.get(app_label="community", model="post")
        assert world["cm:hidden"].related_type_id == case_ct.pk
        assert world["post:closed"].related_type_id == post_ct.pk
        assert world["post:closed"].related_id is not None

    @pytest.mark.parametrize("who", ["bob", "alice"])
    def test_api_list_queue_and_one_mention(self, api_as, world, request, who):
        user = request.getfixturevalue(who)
        api = api_as(user)
        listing = _texts(api.get("/api/listening/mentions"))
        queue = _texts(api.get("/api/listening/queue"))
        for text in (listing, queue):
            for s in SEEN:
                assert s in text, (who, s)
            for s in HIDDEN:
                assert (s in text) == (who == "alice"), (who, s)
        for ext in ("post:closed", "cm:hidden"):
            got = api.get(f"/api/listening/mentions/{world[ext].public_id}")
            assert got.status_code == (200 if who == "alice" else 404), (who, ext)
            acted = api.post(f"/api/listening/mentions/{world[ext].public_id}/dismiss")
            assert acted.status_code == (200 if who == "alice" else 404), (who, ext)
        assert api.get(f"/api/listening/mentions/{world['cm:seen'].public_id}").status_code == 200

    def test_bulk_skips_what_bob_may_not_see(self, api_as, world, bob):
        ids = [str(world[e].public_id) for e in ("cm:hidden", "cm:seen")]
        r = api_as(bob).post("/api/listening/mentions/bulk", {"ids": ids, "action": "dismiss"})
        assert r.status_code == 200
        assert r.json()["done"] == [ids[1]]
        assert [f["id"] for f in r.json()["failed"]] == [ids[0]]
        world["cm:hidden"].refresh_from_db()
        assert world["cm:hidden"].status == "new"

    @pytest.mark.parametrize("who", ["bob", "alice"])
    def test_pages_queue_and_top_authors(self, world, request, who):
        web = client_for(request.getfixturevalue(who))
        pages = [
            _texts(web.get("/listening/?status=all")),
            _texts(web.get("/listening/dashboards/")),
            _texts(web.get("/listening/dashboards/top-authors.csv")),
        ]
        for i, text in enumerate(pages):
            is_dashboard = i > 0
            for s in HIDDEN:
                if is_dashboard and " " in s:
                    continue  # dashboards name authors, not texts
                assert (s in text) == (who == "alice"), (who, i, s)
        assert "open-author" in pages[2] and "seen-mailer" in pages[2]

    def test_timeline_mirror_of_a_hidden_mention(self, world, alice, bob, api_as):
        """A matched internal mention on a person's timeline is hidden from bob too."""
        from kith.interactions import access as ia

        person = make_person(alice, given="Bea", family="Ta", email="beta-author@example.com")
        m = world["post:closed"]
        Mention.objects.filter(pk=m.pk).update(person=person)
        m.refresh_from_db()
        services._mirror_on_timelines(m.source, [m])
        row = Interaction.objects.get(source="listening", external_id=f"mention:{m.pk}")
        assert ia.visible(alice, [row]) == [row]
        assert ia.visible(bob, [row]) == []


class TestConvertedCaseIsOpenToTheAgent:
    def test_agent_outside_the_queue_gets_the_case(self, api_as, alice, bob, dan):
        queue = service.create_queue(actor=alice, name="Social desk", agents=[dan])
        source = services.create_source(
            actor=alice, data={"kind": "webhook", "name": "Hook"}
        ).source
        services.update_source(actor=alice, source=source, data={"queue": queue})
        ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
        ContactPoint.objects.create(
            party=ana, channel="mastodon", value="@ana@m.social", normalized="ana@m.social"
        )
        source = Source.objects.get(pk=source.pk)
        services.ingest(
            source,
            [
                IncomingMention(
                    external_id="1",
                    text="my order arrived broken",
                    channel="mastodon",
                    author_handle="@ana@m.social",
                    published_at=timezone.now(),
                )
            ],
        )
        m = Mention.objects.get()
        # Before: bob is no agent of the source's queue and would not see the case.
        r = api_as(bob).post(f"/api/listening/mentions/{m.public_id}/convert", {"kind": "case"})
        assert r.status_code == 200, r.content
        from kith.service.models import Case

        case = Case.objects.get()
        assert case.assignee == bob and case.queue == queue
        assert api_as(bob).get(f"/api/cases/{case.public_id}").status_code == 200
        assert client_for(bob).get(r.json()["converted_url"]).status_code == 200

    def test_queue_agent_keeps_the_queue_rule(self, api_as, alice, bob, dan):
        queue = service.create_queue(actor=alice, name="Social desk", agents=[bob, dan])
        source = services.create_source(
            actor=alice, data={"kind": "webhook", "name": "Hook"}
        ).source
        services.update_source(actor=alice, source=source, data={"queue": queue})
        ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
        source = Source.objects.get(pk=source.pk)
        services.ingest(
            source,
            [
                IncomingMention(
                    external_id="1",
                    text="broken lid",
                    channel="mastodon",
                    author_handle="@x@m.social",
                    published_at=timezone.now(),
                )
            ],
        )
        m = Mention.objects.get()
        services.assign_mention(actor=alice, mention=m, assignee=dan)
        r = api_as(bob).post(
            f"/api/listening/mentions/{m.public_id}/convert",
            {"kind": "case", "person": str(ana.public_id)},
        )
        assert r.status_code == 200, r.content
        from kith.service.models import Case

        case = Case.objects.get()
        assert case.assignee == dan  # the mention's assignee, as before
        assert api_as(bob).get(f"/api/cases/{case.public_id}").status_code == 200
