"""Community pages: reading without login, 404s, asking with similar questions, voting,
accepting, moderation queue, rules editor, the person panel and publishing a case."""

from __future__ import annotations

from django.test import Client

from kith.community import services
from kith.community.models import MemberProfile, Topic
from kith.service import services as service_services
from kith.service.models import CaseMessage
from kith.service.services import CaseInput
from tests.community.conftest import make_trusted
from tests.conftest import client_for, party_page


def test_anonymous_reads_public_but_not_customers_space(public_space, customer_space, carol, pat):
    public = services.create_topic(actor=carol, space=public_space, title="Open Q", body="**hi**")
    private = services.create_topic(actor=carol, space=customer_space, title="Closed Q", body="x")
    anonymous = Client()
    assert anonymous.get("/community/").status_code == 200
    page = anonymous.get(f"/community/t/{public.public_id}/")
    assert page.status_code == 200 and b"<strong>hi</strong>" in page.content
    assert anonymous.get(f"/community/t/{private.public_id}/").status_code == 404
    assert anonymous.get(f"/community/s/{customer_space.slug}/").status_code == 404
    assert client_for(pat).get(f"/community/t/{private.public_id}/").status_code == 404
    assert client_for(carol).get(f"/community/t/{private.public_id}/").status_code == 200
    # Writing needs a login.
    r = anonymous.post(f"/community/t/{public.public_id}/answer/", {"body": "hi"})
    assert r.status_code == 302 and "/portal/login" in r["Location"]


def test_ask_flow_with_similar_questions_and_errors(public_space, alice, carol):
    services.create_topic(actor=alice, space=public_space, title="Reset my password", body="how")
    client = client_for(carol)
    fragment = client.get("/community/similar/", {"title": "password reset"}).content.decode()
    assert "Reset my password" in fragment
    r = client.post(f"/community/s/{public_space.slug}/ask/", {"title": "", "body": ""})
    assert r.status_code == 422
    assert "This field is required." in r.content.decode()
    r = client.post(
        f"/community/s/{public_space.slug}/ask/",
        {
            "title": "Can I <b>bold</b>?",
            "body": "<script>alert(1)</script>text",
            "kind": "question",
        },
    )
    assert r.status_code == 302
    assert Topic.objects.filter(author=carol).count() == 1
    html = client.get(r["Location"]).content.decode()
    assert "Can I &lt;b&gt;bold&lt;/b&gt;?" in html
    assert "<script>alert(1)" not in html


def test_vote_and_accept_through_pages(public_space, carol, cyd):
    make_trusted(carol)
    topic = services.create_topic(actor=carol, space=public_space, title="Q", body="q")
    answer = services.reply(actor=cyd, topic=topic, body="A")
    client = client_for(carol)
    client.post(f"/community/p/{answer.public_id}/vote/", {"value": "1"})
    client.post(f"/community/p/{answer.public_id}/accept/")
    assert MemberProfile.objects.get(user=cyd).reputation == 10 + 15
    html = client.get(f"/community/t/{topic.public_id}/").content.decode()
    assert "Accepted answer" in html
    # cyd may not accept on carol's question: no button, and the POST is refused.
    assert (
        "Accept this answer"
        not in client_for(cyd).get(f"/community/t/{topic.public_id}/").content.decode()
    )
    assert client_for(cyd).post(f"/community/p/{answer.public_id}/accept/").status_code == 403


def test_moderation_queue_and_rules_page(public_space, alice, bob, carol, cyd):
    make_trusted(cyd, level=1)
    services.create_topic(
        actor=cyd, space=public_space, title="Spammy", body="https://x.example www.y.example"
    )
    html = client_for(bob).get("/community/moderation/").content.decode()
    assert "Spammy" in html
    assert client_for(carol).get("/community/moderation/").status_code == 404
    r = client_for(alice).get(f"/community/s/{public_space.slug}/rules/")
    assert r.status_code == 200 and "answer_upvoted" in r.content.decode()
    data = {f"points.{k}": v for k, v in public_space.points.items()}
    data |= {
        f"privileges.{name}.{part}": value
        for name, need in public_space.privileges.items()
        for part, value in need.items()
    }
    data["points.answer_upvoted"] = "12"
    r = client_for(alice).post(f"/community/s/{public_space.slug}/rules/", data)
    assert r.status_code == 302
    public_space.refresh_from_db()
    assert public_space.point("answer_upvoted") == 12
    assert client_for(bob).post(f"/community/s/{public_space.slug}/rules/", data).status_code == 403


def test_person_page_shows_standing(public_space, alice, carol, cyd):
    topic = services.create_topic(actor=carol, space=public_space, title="Q", body="q")
    answer = services.reply(actor=cyd, topic=topic, body="A")
    services.accept_answer(actor=carol, answer=answer)
    html = party_page(alice, cyd.person)
    assert 'id="community-panel"' in html
    assert "<dd data-reputation>15</dd>" in html


def test_publish_solved_case_with_redaction(public_space, alice, carol_person):
    case = service_services.create_case(
        actor=alice,
        data=CaseInput(
            subject="Carol cannot export",
            description="Hi, I am Carol, carol@example.com, +1 415 555 0100. Export fails.",
            requester=carol_person,
        ),
    )
    service_services.add_message(
        actor=alice,
        case=case,
        kind=CaseMessage.Kind.REPLY,
        body="Hi Carol, use Export > CSV.",
        send_email=False,
    )
    url = f"/community/from-case/{case.public_id}/"
    client = client_for(alice)
    html = client.get(url).content.decode()
    assert '<mark class="c-pii c-pii-email">carol@example.com</mark>' in html
    assert 'value="Carol"' in html
    form = {
        "space": public_space.slug,
        "title": "Carol cannot export",
        "question": "Hi, I am Carol, carol@example.com, +1 415 555 0100. Export fails.",
        "answer": "Hi Carol, use Export > CSV.",
    }
    r = client.post(url, form)  # not solved yet
    assert r.status_code == 422 and "solved case" in r.content.decode()
    service_services.change_status(actor=alice, case=case, status="resolved")
    r = client.post(url, form)  # nothing ticked: the e-mail and phone stay
    assert r.status_code == 422 and "Still contains personal data" in r.content.decode()
    r = client.post(url, {**form, "redact": ["Carol", "carol@example.com", "+1 415 555 0100"]})
    assert r.status_code == 302, r.content.decode()[:2000]
    topic = Topic.objects.get(space=public_space)
    assert topic.title == "[redacted] cannot export" and topic.answered
    bodies = " ".join(topic.posts.values_list("body", flat=True))
    assert "carol" not in bodies.lower() and "555" not in bodies
    assert topic.accepted_answer.is_official


def test_my_questions_page(public_space, carol, cyd):
    topic = services.create_topic(actor=carol, space=public_space, title="Mine Q", body="q")
    services.reply(actor=cyd, topic=topic, body="A")
    assert "Mine Q" in client_for(carol).get("/community/mine/").content.decode()
    assert "Mine Q" in client_for(cyd).get("/community/mine/").content.decode()
    assert Client().get("/community/mine/").status_code == 302


def test_trust_level_rules_page(alice, bob):
    data = {
        "level": "1",
        "name": "Basic",
        "window_days": "100",
        "min_days_visited": "5",
        "min_posts_read": "10",
        "min_replies": "0",
        "min_likes_given": "0",
        "min_likes_received": "0",
        "max_flags_against": "5",
        "posts_per_day": "20",
        "links_allowed": "on",
    }
    assert client_for(bob).post("/community/trust-levels/", data).status_code == 403
    assert client_for(alice).post("/community/trust-levels/", data).status_code == 302
    from kith.community.models import TrustLevelRule

    assert TrustLevelRule.objects.get(level=1).min_days_visited == 5
    r = client_for(alice).post("/community/trust-levels/", {**data, "posts_per_day": "x"})
    assert r.status_code == 422
    assert "min_days_visited" in client_for(bob).get("/community/trust-levels/").content.decode()
