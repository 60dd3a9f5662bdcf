"""The portal's research survey API: a customer lists their invitations, reads one and
answers it once; bad answers are 422s naming the question; another customer's survey,
staff and the uninvited get 404; staff read the results through the staff API."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kith.accounts.models import User
from kith.cmr.models import Consent, Purpose
from kith.insights import panels
from kith.insights.models_research import SurveyAnswer, SurveyInvitation
from kith.people.models import Party

pytestmark = pytest.mark.django_db

Q = panels.QuestionInput


def _customer(n: int) -> User:
    person = Party.objects.create(
        kind="person",
        display_name=f"Customer {n}",
        sort_name=f"customer {n}",
        attributes={"country": "DE" if n % 2 else "FR"},
    )
    Consent.objects.create(
        person=person,
        purpose=Purpose.objects.get(key=panels.RESEARCH_PURPOSE),
        channel="any",
        granted=True,
        changed_at=timezone.now(),
        source="portal",
    )
    return User.objects.create(
        username=f"cust{n}@example.com",
        email=f"cust{n}@example.com",
        kind="portal",
        role="viewer",
        person=person,
    )


@pytest.fixture
def survey_world(db, alice):
    """Eight consenting customers, a panel of four of them, an open survey."""
    users = [_customer(i) for i in range(8)]
    panel = panels.build_panel(actor=alice, name="P", size=4, strata=["region"], seed=3)
    survey = panels.create_survey(
        actor=alice,
        panel=panel,
        title="How are we doing?",
        questions=[
            Q(kind="single", text="Recommend us?", choices=("Yes", "No")),
            Q(kind="scale", text="How happy?", scale_min=1, scale_max=5),
            Q(kind="multiple", text="What do you use?", choices=("App", "Web", "Phone")),
            Q(kind="text", text="Anything else?", required=False),
        ],
    )
    panels.invite(actor=alice, survey=survey)
    invited_ids = set(SurveyInvitation.objects.values_list("party_id", flat=True))
    invited = [u for u in users if u.person_id in invited_ids]
    outsiders = [u for u in users if u.person_id not in invited_ids]
    return survey, invited, outsiders


GOOD = {
    "answers": [
        {"question": 1, "choices": ["Yes"]},
        {"question": 2, "value": 4},
        {"question": 3, "choices": ["App", "Web"]},
        {"question": 4, "text": "Fine."},
    ]
}


def test_a_customer_lists_reads_and_answers_once(survey_world, api_as, alice):
    survey, invited, _ = survey_world
    api = api_as(invited[0])
    listing = api.get("/api/portal/surveys")
    assert listing.status_code == 200, listing.content
    assert [s["id"] for s in listing.json()] == [str(survey.public_id)]
    assert listing.json()[0]["can_answer"] is True
    detail = api.get(f"/api/portal/surveys/{survey.public_id}").json()
    assert [q["kind"] for q in detail["questions"]] == ["single", "scale", "multiple", "text"]
    assert detail["questions"][0]["choices"] == ["Yes", "No"]
    assert detail["questions"][1]["scale_min"] == 1 and detail["questions"][1]["scale_max"] == 5
    done = api.post(f"/api/portal/surveys/{survey.public_id}/answers", GOOD)
    assert done.status_code == 200, done.content
    assert done.json()["answered_at"] and done.json()["can_answer"] is False
    inv = SurveyInvitation.objects.get(survey=survey, party=invited[0].person)
    assert SurveyAnswer.objects.filter(invitation=inv).count() == 4
    # Twice: a 409, nothing changed.
    again = api.post(f"/api/portal/surveys/{survey.public_id}/answers", GOOD)
    assert again.status_code == 409
    assert SurveyAnswer.objects.filter(invitation=inv).count() == 4
    assert api.get("/api/portal/surveys", open_only=True).json() == []
    # Staff read the results, unweighted and weighted, through the staff API.
    results = api_as(alice).get(f"/api/insights/surveys/{survey.public_id}/results").json()
    assert results["respondents"] == 1
    yes = {o["choice"]: o for o in results["questions"][0]["options"]}["Yes"]
    assert yes["count"] == 1 and yes["unweighted"] == pytest.approx(1.0)
    assert results["questions"][1]["mean_unweighted"] == pytest.approx(4.0)


@pytest.mark.parametrize(
    "answers,field",
    [
        ([{"question": 2, "value": 4}], "q1"),  # required question missing
        ([{"question": 1, "choices": ["Maybe"]}, {"question": 2, "value": 4}], "q1"),
        ([{"question": 1, "choices": ["Yes"]}, {"question": 2, "value": 9}], "q2"),
        (
            [
                {"question": 1, "choices": ["Yes"]},
                {"question": 2, "value": 3},
                {"question": 3, "choices": ["App", "Fax"]},
            ],
            "q3",
        ),
        (
            [
                {"question": 1, "choices": ["Yes"]},
                {"question": 2, "value": 3},
                {"question": 3, "choices": ["App"]},
                {"question": 4, "text": "x" * (panels.MAX_TEXT + 1)},
            ],
            "q4",
        ),
        ([{"question": 9, "choices": ["Yes"]}], "answers[0].question"),
        (
            [{"question": 1, "choices": ["Yes"]}, {"question": 1, "choices": ["No"]}],
            "answers[1].question",
        ),
    ],
)
def test_bad_answers_are_422s_naming_the_question(survey_world, api_as, answers, field):
    survey, invited, _ = survey_world
    response = api_as(invited[1]).post(
        f"/api/portal/surveys/{survey.public_id}/answers", {"answers": answers}
    )
    assert response.status_code == 422, response.content
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not SurveyAnswer.objects.exists()
    assert not SurveyInvitation.objects.filter(answered_at__isnull=False).exists()


def test_malformed_bodies_are_422s(survey_world, api_as):
    survey, invited, _ = survey_world
    url = f"/api/portal/surveys/{survey.public_id}/answers"
    api = api_as(invited[1])
    assert api.post(url, {}).status_code == 422
    assert api.post(url, {"answers": [{"question": "one"}]}).status_code == 422
    assert api.post(url, {"answers": [{"question": 2, "value": 10**6}]}).status_code == 422


def test_another_customers_survey_and_staff_get_404(survey_world, api_as, alice, carol):
    survey, _, outsiders = survey_world
    url = f"/api/portal/surveys/{survey.public_id}"
    for user in (outsiders[0], carol, alice):
        api = api_as(user)
        assert api.get(url).status_code == 404
        assert api.post(f"{url}/answers", GOOD).status_code == 404
    assert api_as(outsiders[0]).get("/api/portal/surveys").json() == []
    assert api_as(alice).get("/api/portal/surveys").status_code == 404
    assert not SurveyAnswer.objects.exists()


def test_a_closed_survey_or_withdrawn_consent(survey_world, api_as, alice):
    survey, invited, _ = survey_world
    Consent.objects.filter(person=invited[2].person).update(granted=False)
    assert api_as(invited[2]).get(f"/api/portal/surveys/{survey.public_id}").status_code == 404
    assert api_as(invited[2]).get("/api/portal/surveys").json() == []
    panels.close_survey(actor=alice, survey=survey)
    closed = api_as(invited[3]).post(f"/api/portal/surveys/{survey.public_id}/answers", GOOD)
    assert closed.status_code == 409
    listed = api_as(invited[3]).get("/api/portal/surveys").json()
    assert listed[0]["status"] == "closed" and listed[0]["can_answer"] is False
