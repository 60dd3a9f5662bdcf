"""Research panels: stratified sampling among consenting customers, invitations, answers
in the portal, and results weighted back to the customer base beside the unweighted."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kith.accounts.models import User
from kith.cmr.models import Consent, Purpose
from kith.collab.models import Notification
from kith.core.errors import Conflict, NotFound, ValidationFailed
from kith.insights import panels
from kith.insights.models_research import PanelMember, SurveyAnswer, SurveyInvitation
from kith.interactions.models import Interaction
from kith.people.models import Party
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

Q = panels.QuestionInput


def _customer(n: int, country: str) -> User:
    person = Party.objects.create(
        kind="person",
        display_name=f"Customer {n}",
        sort_name=f"customer {n}",
        attributes={"country": country},
    )
    return User.objects.create(
        username=f"cust{n}@example.com",
        email=f"cust{n}@example.com",
        kind="portal",
        role="viewer",
        person=person,
    )


def _consent(person: Party, granted: bool) -> None:
    Consent.objects.update_or_create(
        person=person,
        purpose=Purpose.objects.get(key=panels.RESEARCH_PURPOSE),
        channel="any",
        defaults={"granted": granted, "changed_at": timezone.now(), "source": "portal"},
    )


@pytest.fixture
def base(db):
    """100 customers with a portal login: 60 in DE, 40 in FR, all consenting to research."""
    users = [_customer(i, "DE" if i < 60 else "FR") for i in range(100)]
    for u in users:
        _consent(u.person, True)
    return users


def _survey(actor, panel):
    return panels.create_survey(
        actor=actor,
        panel=panel,
        title="How are we doing?",
        questions=[
            Q(kind="single", text="Would you recommend us?", choices=("Yes", "No")),
            Q(kind="scale", text="How happy are you?", scale_min=1, scale_max=5),
            Q(kind="multiple", text="What do you use?", choices=("App", "Web", "Phone")),
            Q(kind="text", text="Anything else?", required=False),
        ],
    )


def _answer(user, survey, *, yes: bool, happy: int):
    inv = SurveyInvitation.objects.get(survey=survey, party=user.person)
    return panels.submit_answers(
        actor=user,
        invitation=inv,
        answers={
            "q1": ["Yes" if yes else "No"],
            "q2": [str(happy)],
            "q3": ["App", "Web"] if yes else ["Phone"],
            "q4": ["Fine."],
        },
    )


# ---------------------------------------------------------------- drawing a panel


def test_the_panel_is_stratified_and_only_among_consenting_customers(base, alice):
    withdrawn = [u.person for u in base[:10]]  # ten in DE withdrew
    for p in withdrawn:
        _consent(p, False)
    outsider = Party.objects.create(kind="person", display_name="No login", sort_name="x")
    _consent(outsider, True)  # consents, but cannot answer in the portal: not in the frame
    panel = panels.build_panel(actor=alice, name="Spring", size=20, strata=["region"], seed=1)
    members = PanelMember.objects.filter(panel=panel)
    assert members.count() == 20
    assert panel.population_size == 100 and panel.frame_size == 90
    assert panel.margins == {"region": {"DE": 60, "FR": 40}}
    by_region = {row["stratum"]["region"]: row for row in panel.allocation}
    assert by_region["DE"]["target"] == 12 and by_region["DE"]["sampled"] == 12
    assert by_region["FR"]["target"] == 8 and by_region["FR"]["sampled"] == 8
    assert members.filter(strata__region="DE").count() == 12
    assert not members.filter(party__in=withdrawn).exists()
    assert panels.shortfalls(panel) == []
    # The same seed draws the same people.
    again = panels.build_panel(actor=alice, name="Again", size=20, strata=["region"], seed=1)
    assert set(again.members.values_list("party_id", flat=True)) == set(
        members.values_list("party_id", flat=True)
    )


def test_a_stratum_without_consenting_customers_is_a_recorded_shortfall(base, alice):
    for u in base[60:]:
        _consent(u.person, False)  # nobody in FR may be asked
    panel = panels.build_panel(actor=alice, name="P", size=10, strata=["region"], seed=2)
    assert [(r["stratum"], r["target"], r["sampled"]) for r in panels.shortfalls(panel)] == [
        ({"region": "FR"}, 4, 0)
    ]
    assert panel.members.count() == 6


def test_no_one_to_ask_is_a_clear_422(base, alice, api_as):
    Consent.objects.update(granted=False)
    with pytest.raises(ValidationFailed) as caught:
        panels.build_panel(actor=alice, name="P", size=10, strata=["region"])
    assert caught.value.errors[0].field == "strata"
    response = api_as(alice).post(
        "/api/insights/panels", {"name": "P", "size": 10, "strata": ["region"]}
    )
    assert response.status_code == 422
    assert "consented" in response.json()["errors"][0]["message"]
    bad = api_as(alice).post("/api/insights/panels", {"name": "", "size": 10, "strata": ["x"]})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"name", "strata"}


# ---------------------------------------------------------------- weighting


def test_weights_reproduce_the_population_and_beat_the_unweighted_result(base, alice):
    panel = panels.build_panel(actor=alice, name="All", size=100, strata=["region"], seed=3)
    survey = _survey(alice, panel)
    assert panels.invite(actor=alice, survey=survey)["invited"] == 100
    # Truth in the customer base: FR would recommend us (40 %), DE would not; FR are
    # happier (5 against 2: a mean of 3.2). The loud answer: 30 of FR, only 10 of DE.
    for u in base[:10]:
        _answer(u, survey, yes=False, happy=2)
    for u in base[60:90]:
        _answer(u, survey, yes=True, happy=5)
    res = panels.results(survey)
    assert res.respondents == 40 and res.invited == 100 and res.weighted
    for m in res.margins:
        assert m["weighted"] == pytest.approx(m["population"])
    assert {m["category"]: m["unweighted"] for m in res.margins} == {"DE": 0.25, "FR": 0.75}
    q1, q2, q3, q4 = res.questions
    yes = next(o for o in q1["options"] if o["choice"] == "Yes")
    truth = 0.4
    assert yes["unweighted"] == pytest.approx(0.75)
    assert yes["weighted"] == pytest.approx(truth)
    assert abs(yes["weighted"] - truth) < abs(yes["unweighted"] - truth)
    assert q2["mean_unweighted"] == pytest.approx(4.25)
    assert q2["mean_weighted"] == pytest.approx(3.2)
    app = next(o for o in q3["options"] if o["choice"] == "App")
    assert app["weighted"] == pytest.approx(0.4) and app["count"] == 30
    assert q4["texts"].count("Fine.") == 40


def test_a_skewed_sample_over_two_strata_is_pulled_towards_the_truth(db, alice):
    """Within each region the happy answer more often too, which no margin knows about:
    raking by region removes the region skew only, yet lands nearer the truth."""
    users = []
    n = 0
    truth_yes = 0
    for country, count in (("DE", 120), ("FR", 80)):
        for i in range(count):
            u = _customer(n, country)
            n += 1
            happy = (country == "FR") or (i % 3 == 0)
            truth_yes += happy
            users.append((u, happy))
            _consent(u.person, True)
    truth = truth_yes / len(users)
    panel = panels.build_panel(actor=alice, name="All", size=200, strata=["region"], seed=4)
    survey = panels.create_survey(
        actor=alice,
        panel=panel,
        title="Happy?",
        questions=[Q(kind="single", text="Happy?", choices=("Yes", "No"))],
    )
    panels.invite(actor=alice, survey=survey)
    # Happy people answer three times as often as unhappy ones, FR more than DE.
    for k, (u, happy) in enumerate(users):
        fr = u.person.attributes["country"] == "FR"
        if (happy and k % 2 == 0) or (not happy and k % 5 == 1) or (fr and k % 3 == 0):
            inv = SurveyInvitation.objects.get(survey=survey, party=u.person)
            panels.submit_answers(
                actor=u, invitation=inv, answers={"q1": ["Yes" if happy else "No"]}
            )
    yes = next(o for o in panels.results(survey).questions[0]["options"] if o["choice"] == "Yes")
    assert abs(yes["weighted"] - truth) < abs(yes["unweighted"] - truth)


def test_an_empty_stratum_among_respondents_withholds_the_weighted_result(base, alice, api_as):
    panel = panels.build_panel(actor=alice, name="All", size=100, strata=["region"], seed=5)
    survey = _survey(alice, panel)
    panels.invite(actor=alice, survey=survey)
    for u in base[60:65]:  # FR only
        _answer(u, survey, yes=True, happy=4)
    res = panels.results(survey)
    assert not res.weighted
    assert [e.field for e in res.weighting_errors] == ["margins.region.DE"]
    assert "no respondent" in res.weighting_message
    assert res.questions[0]["options"][0]["weighted"] is None
    response = api_as(alice).get(f"/api/insights/surveys/{survey.public_id}/results")
    assert response.status_code == 200
    body = response.json()
    assert body["weighted"] is False
    assert body["weighting_errors"][0]["field"] == "margins.region.DE"
    assert body["questions"][0]["options"][0]["unweighted"] == 1.0
    page = client_for(alice).get(f"/insights/surveys/{survey.public_id}/")
    assert page.status_code == 200 and "withheld" in page.content.decode()


def test_no_answers_yet_is_a_clear_result(base, alice):
    panel = panels.build_panel(actor=alice, name="All", size=10, strata=["region"], seed=6)
    res = panels.results(_survey(alice, panel))
    assert res.respondents == 0 and not res.weighted
    assert res.weighting_message == "No answers yet: nothing to weight."


# ---------------------------------------------------------------- invitations and answers


def test_withdrawn_consent_is_neither_invited_nor_shown_the_survey(base, alice):
    panel = panels.build_panel(actor=alice, name="All", size=100, strata=["region"], seed=7)
    survey = _survey(alice, panel)
    quitter = base[0]
    _consent(quitter.person, False)
    counts = panels.invite(actor=alice, survey=survey)
    assert counts == {"invited": 99, "already_invited": 0, "no_consent": 1, "no_login": 0}
    assert not SurveyInvitation.objects.filter(party=quitter.person).exists()
    assert panels.invite(actor=alice, survey=survey)["already_invited"] == 99
    # One who was invited then withdraws no longer sees it.
    later = base[1]
    _consent(later.person, False)
    assert panels.invitations_of(later) == []
    with pytest.raises(NotFound):
        panels.invitation_for(later, survey.public_id)
    assert client_for(later).get(f"/portal/surveys/{survey.public_id}/").status_code == 404


def test_invited_customers_are_notified(base, alice):
    panel = panels.build_panel(actor=alice, name="All", size=5, strata=["region"], seed=8)
    survey = _survey(alice, panel)
    panels.invite(actor=alice, survey=survey)
    notes = Notification.objects.filter(url=f"/portal/surveys/{survey.public_id}/")
    assert notes.count() == 5
    assert set(notes.values_list("user__person", flat=True)) == set(
        panel.members.values_list("party_id", flat=True)
    )


def test_a_customer_answers_in_the_portal_once_and_it_lands_on_their_timeline(base, alice):
    panel = panels.build_panel(actor=alice, name="All", size=100, strata=["region"], seed=9)
    survey = _survey(alice, panel)
    panels.invite(actor=alice, survey=survey)
    customer = base[3]
    client = client_for(customer)
    listing = client.get("/portal/surveys/")
    assert listing.status_code == 200 and "How are we doing?" in listing.content.decode()
    page = client.get(f"/portal/surveys/{survey.public_id}/")
    assert page.status_code == 200 and "Would you recommend us?" in page.content.decode()
    # An answer outside the options is refused, nothing is written.
    bad = client.post(f"/portal/surveys/{survey.public_id}/", {"q1": "Maybe", "q2": "9"})
    assert bad.status_code == 422
    assert "Choose one of the options." in bad.content.decode()
    assert not SurveyAnswer.objects.exists()
    ok = client.post(
        f"/portal/surveys/{survey.public_id}/",
        {"q1": "Yes", "q2": "4", "q3": ["App", "Phone"], "q4": ""},
    )
    assert ok.status_code == 302
    inv = SurveyInvitation.objects.get(survey=survey, party=customer.person)
    assert inv.answered_at is not None
    assert sorted(
        SurveyAnswer.objects.filter(invitation=inv).values_list("question__position", flat=True)
    ) == [1, 2, 3]
    timeline = Interaction.objects.get(party=customer.person, channel="survey")
    assert timeline.kind == "survey.answered" and "How are we doing?" in timeline.summary
    again = client.post(f"/portal/surveys/{survey.public_id}/", {"q1": "No", "q2": "1"})
    assert again.status_code == 302
    assert SurveyAnswer.objects.filter(invitation=inv).count() == 3
    with pytest.raises(Conflict):
        _answer(customer, survey, yes=False, happy=1)


def test_a_customer_cannot_answer_a_survey_they_were_not_invited_to(base, alice, carol, bob):
    panel = panels.build_panel(actor=alice, name="Few", size=3, strata=["region"], seed=10)
    survey = _survey(alice, panel)
    panels.invite(actor=alice, survey=survey)
    invited = set(panel.members.values_list("party_id", flat=True))
    stranger = next(u for u in base if u.person_id not in invited)
    url = f"/portal/surveys/{survey.public_id}/"
    assert client_for(stranger).get(url).status_code == 404
    assert client_for(stranger).post(url, {"q1": "Yes", "q2": "3"}).status_code == 404
    assert client_for(carol).get(url).status_code == 404
    assert not SurveyAnswer.objects.exists()
    assert "How are we doing?" not in client_for(stranger).get("/portal/surveys/").content.decode()


def test_a_closed_survey_takes_no_more_answers_or_invitations(base, alice):
    panel = panels.build_panel(actor=alice, name="All", size=100, strata=["region"], seed=11)
    survey = _survey(alice, panel)
    panels.invite(actor=alice, survey=survey)
    panels.close_survey(actor=alice, survey=survey)
    with pytest.raises(Conflict):
        panels.invite(actor=alice, survey=survey)
    with pytest.raises(Conflict):
        _answer(base[0], survey, yes=True, happy=3)


def test_survey_questions_are_validated(base, alice):
    panel = panels.build_panel(actor=alice, name="All", size=5, strata=["region"], seed=12)
    with pytest.raises(ValidationFailed) as caught:
        panels.create_survey(
            actor=alice,
            panel=panel,
            title="",
            questions=[
                Q(kind="single", text="One option?", choices=("Only",)),
                Q(kind="scale", text="Backwards", scale_min=5, scale_max=1),
                Q(kind="poll", text="?"),
            ],
        )
    assert {e.field for e in caught.value.errors} == {
        "title",
        "questions[0].choices",
        "questions[1].scale_max",
        "questions[2].kind",
    }


# ---------------------------------------------------------------- API


def test_the_api_flow_and_who_may_use_it(base, alice, vic, carol, api_as):
    api = api_as(alice)
    built = api.post(
        "/api/insights/panels",
        {"name": "API panel", "size": 30, "strata": ["participation", "region"], "seed": 13},
    )
    assert built.status_code == 201, built.content
    panel = built.json()
    assert panel["members"] == 30 and panel["margins"]["participation"] == {
        "none": 101
    }  # with carol
    assert api_as(vic).post("/api/insights/panels", {"name": "V", "size": 3}).status_code == 403
    assert api_as(vic).get(f"/api/insights/panels/{panel['id']}").status_code == 200
    assert api_as(carol).get("/api/insights/panels").status_code == 404
    bad = api.post(
        f"/api/insights/panels/{panel['id']}/surveys",
        {"title": "T", "questions": [{"kind": "single", "text": "Q", "choices": ["A"]}]},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "questions[0].choices"
    made = api.post(
        f"/api/insights/panels/{panel['id']}/surveys",
        {
            "title": "T",
            "questions": [
                {"kind": "single", "text": "Q", "choices": ["A", "B"]},
                {"kind": "scale", "text": "S", "scale_min": 0, "scale_max": 10},
            ],
        },
    )
    assert made.status_code == 201, made.content
    survey = made.json()
    invited = api.post(f"/api/insights/surveys/{survey['id']}/invitations")
    assert invited.json() == {"invited": 30, "already_invited": 0, "no_consent": 0, "no_login": 0}
    results = api.get(f"/api/insights/surveys/{survey['id']}/results").json()
    assert results["invited"] == 30 and results["respondents"] == 0
    assert api.post(f"/api/insights/surveys/{survey['id']}/close").json()["status"] == "closed"
    assert api.post(f"/api/insights/surveys/{survey['id']}/invitations").status_code == 409
    missing = "00000000-0000-0000-0000-000000000000"
    assert api.get(f"/api/insights/surveys/{missing}").status_code == 404


def test_the_value_segment_of_the_latest_finished_run_is_a_stratum(base, alice):
    from kith.insights.models_value import PersonValue, ValueRun

    ValueRun.objects.create(status="failed", in_flight=None)
    run = ValueRun.objects.create(status="done", in_flight=None, finished_at=timezone.now())
    for u in base[:25]:
        PersonValue.objects.create(run=run, party=u.person, segment="champion")
    panel = panels.build_panel(
        actor=alice, name="Value", size=20, strata=["value_segment"], seed=14
    )
    assert panel.margins == {"value_segment": {"champion": 25, "unscored": 75}}
    assert panel.members.filter(strata__value_segment="champion").count() == 5
