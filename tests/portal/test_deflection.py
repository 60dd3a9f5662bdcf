"""Case deflection: answered community topics are shown before a case is opened, and
whether the customer read one and did not open the case is measured."""

from __future__ import annotations

import pytest

from kith.community import services as community_services
from kith.core.models import OutboxEvent
from kith.interactions.models import Interaction
from kith.service.models import Case, Deflection
from tests.conftest import client_for


@pytest.fixture
def answered(alice, bob):
    """A public, answered question about resetting a router, and an unanswered one."""
    space = community_services.create_space(
        actor=alice, name="Help", slug="help", audience="public"
    )
    topic = community_services.create_topic(
        actor=alice, space=space, title="How do I reset my router?", body="It keeps dropping."
    )
    answer = community_services.reply(
        actor=bob, topic=topic, body="Hold the reset button for ten seconds."
    )
    community_services.accept_answer(actor=alice, answer=answer)
    community_services.create_topic(
        actor=alice, space=space, title="Router colours available?", body="Just curious."
    )
    topic.refresh_from_db()
    return topic


def _events(name: str) -> int:
    return OutboxEvent.objects.filter(name=name).count()


def test_the_deflection_step_shows_answered_topics_first(carol, answered):
    client = client_for(carol)
    page = client.get("/portal/cases/new/", {"subject": "reset router"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "These answers may already help" in html
    assert "How do I reset my router?" in html
    assert "Router colours available?" not in html  # unanswered topics are not offered
    row = Deflection.objects.get()
    assert row.user_id == carol.pk and row.suggested[0]["id"] == str(answered.public_id)
    # A reload is the same offer, not a second one.
    client.get("/portal/cases/new/", {"subject": "reset router"})
    assert Deflection.objects.count() == 1


def test_viewing_an_answer_and_not_submitting_is_a_deflection(carol, answered):
    client = client_for(carol)
    client.get("/portal/cases/new/", {"subject": "reset router"})
    row = Deflection.objects.get()
    page = client.get(f"/portal/cases/suggested/{row.public_id}/{answered.public_id}/")
    assert page.status_code == 200
    assert "Hold the reset button for ten seconds." in page.content.decode()
    row.refresh_from_db()
    assert row.viewed_at is not None and row.deflected
    seen = Interaction.objects.get(party=carol.person, kind="answer_viewed")
    assert seen.channel == "community" and seen.information_role == "seeking"
    assert _events("case.deflection_viewed") == 1
    # "This solved my problem": confirmed, no case.
    done = client.post(f"/portal/cases/suggested/{row.public_id}/solved/")
    assert done.status_code == 302
    row.refresh_from_db()
    assert row.confirmed_at is not None and row.deflected
    assert _events("case.deflected") == 1
    assert not Case.objects.exists()


def test_submitting_anyway_is_not_a_deflection(carol, answered):
    client = client_for(carol)
    client.get("/portal/cases/new/", {"subject": "reset router"})
    row = Deflection.objects.get()
    client.get(f"/portal/cases/suggested/{row.public_id}/{answered.public_id}/")
    client.post(
        "/portal/cases/new/",
        {"subject": "reset router", "body": "Did not help", "deflection": str(row.public_id)},
    )
    row.refresh_from_db()
    assert row.case is not None and not row.deflected
    # Too late to say it solved it.
    assert client.post(f"/portal/cases/suggested/{row.public_id}/solved/").status_code == 409


def test_a_customer_cannot_use_another_customers_suggestions(carol, olga, answered):
    client_for(carol).get("/portal/cases/new/", {"subject": "reset router"})
    row = Deflection.objects.get()
    other = client_for(olga)
    assert (
        other.get(f"/portal/cases/suggested/{row.public_id}/{answered.public_id}/").status_code
        == 404
    )
    assert other.post(f"/portal/cases/suggested/{row.public_id}/solved/").status_code == 404
    # Nor a topic that was not suggested.
    assert (
        client_for(carol).get(f"/portal/cases/suggested/{row.public_id}/not-a-topic/").status_code
        == 404
    )
    row.refresh_from_db()
    assert row.viewed_at is None and row.confirmed_at is None


def test_no_match_means_the_plain_form(carol, answered):
    html = (
        client_for(carol).get("/portal/cases/new/", {"subject": "invoice address"}).content.decode()
    )
    assert "These answers may already help" not in html
    assert 'name="body"' in html
    assert not Deflection.objects.exists()


def test_api_suggestions_and_create_with_deflection(carol, answered):
    client = client_for(carol)
    found = client.post(
        "/api/portal/suggestions", {"subject": "reset router"}, content_type="application/json"
    ).json()
    assert [s["title"] for s in found["items"]] == ["How do I reset my router?"]
    created = client.post(
        "/api/portal/cases",
        {"subject": "reset router", "body": "Still down", "deflection": found["deflection"]},
        content_type="application/json",
    )
    assert created.status_code == 201
    assert Deflection.objects.get().case.public_id.hex == created.json()["id"].replace("-", "")


def test_staff_report_counts_deflections(carol, olga, alice, bob, answered):
    # carol reads an answer and stops; olga reads it and opens a case anyway.
    for customer in (carol, olga):
        client = client_for(customer)
        client.get("/portal/cases/new/", {"subject": "reset router"})
        row = Deflection.objects.get(user=customer)
        client.get(f"/portal/cases/suggested/{row.public_id}/{answered.public_id}/")
    client_for(olga).post(
        "/portal/cases/new/",
        {
            "subject": "reset router",
            "body": "no luck",
            "deflection": str(Deflection.objects.get(user=olga).public_id),
        },
    )
    from tests.conftest import ApiClient

    report = ApiClient(alice).get("/api/cases/deflection").json()
    assert report == {
        "offered": 2,
        "viewed": 2,
        "deflected": 1,
        "confirmed": 0,
        "submitted": 1,
        "rate": 0.5,
    }
    assert ApiClient(bob).get("/api/cases/deflection").status_code == 403
    assert client_for(carol).get("/api/cases/deflection").status_code == 404


def test_managers_see_the_deflection_figures_on_the_csat_page(carol, alice, bob, answered):
    client = client_for(carol)
    client.get("/portal/cases/new/", {"subject": "reset router"})
    row = Deflection.objects.get()
    client.get(f"/portal/cases/suggested/{row.public_id}/{answered.public_id}/")
    html = client_for(alice).get("/service/csat/").content.decode()
    assert "Case deflection in the customer portal" in html
    assert "<dt>Deflected (read, no case opened)</dt><dd>1</dd>" in html
    assert "<dt>Deflection rate</dt><dd>100%</dd>" in html
    assert "Case deflection" not in client_for(bob).get("/service/csat/").content.decode()
