"""End to end in a real browser: staff draw a research panel and write a survey, invite
the panel; a customer answers in the portal; staff see the results weighted and
unweighted. No Content-Security-Policy violation on the way."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.cmr.models import Consent, Purpose
from kith.insights import panels
from kith.insights.models_research import SurveyInvitation
from tests.conftest import PASSWORD, make_person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _csp_watch(page: Page) -> list[str]:
    # A shared, loaded CI machine can take more than the fixture's 10 s for a first page.
    page.set_default_timeout(45_000)
    expect.set_options(timeout=30_000)
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text[:80]) if "Content Security Policy" in m.text else None,
    )
    return violations


@pytest.fixture
def people(db):
    alice = account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )
    purpose = Purpose.objects.get(key=panels.RESEARCH_PURPOSE)
    customers = []
    for i, (given, country) in enumerate(
        [("Nia", "DE"), ("Ole", "DE"), ("Pia", "DE"), ("Raf", "FR"), ("Sue", "FR")]
    ):
        email = f"{given.lower()}@example.org"
        person = make_person(None, given=given, family="Panel", email=email)
        person.attributes = {"country": country}
        person.save(update_fields=["attributes"])
        user = account_services.create_user(
            actor=None,
            username=email,
            password=PASSWORD,
            email=email,
            kind=User.Kind.PORTAL,
            role=Role.VIEWER,
            person=person,
        )
        Consent.objects.create(
            person=person,
            purpose=purpose,
            channel="any",
            granted=True,
            changed_at=timezone.now(),
            source="portal",
        )
        customers.append(user)
    return alice, customers


def test_staff_build_a_panel_a_customer_answers_staff_see_weighted_results(new_page, people):
    _alice, customers = people
    staff: Page = new_page()
    staff_violations = _csp_watch(staff)
    staff.goto("/login/")
    staff.get_by_label("Username").fill("alice")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name=re.compile("Log in|Sign in")).click()
    expect(staff).not_to_have_url(re.compile(r"/login/"))

    staff.goto("/insights/panels/")
    staff.get_by_label("Name", exact=True).fill("Spring panel")
    staff.get_by_label("Size", exact=True).fill("5")
    staff.get_by_label("Participation level").uncheck()
    staff.get_by_role("button", name="Draw the panel").click()
    expect(staff.get_by_role("heading", name="Panel: Spring panel")).to_be_visible()
    expect(staff.get_by_test_id("panel-members")).to_have_text("5")

    staff.get_by_label("Title", exact=True).fill("How are we doing?")
    q1 = staff.locator("fieldset", has_text="Question 1")
    q1.get_by_label("Kind").select_option("single")
    q1.get_by_label("Question", exact=True).fill("Would you recommend us?")
    q1.get_by_label(re.compile("Choices")).fill("Yes\nNo")
    q2 = staff.locator("fieldset", has_text="Question 2")
    q2.get_by_label("Kind").select_option("scale")
    q2.get_by_label("Question", exact=True).fill("How happy are you?")
    staff.get_by_role("button", name="Save survey").click()
    expect(staff.get_by_role("heading", name="Survey: How are we doing?")).to_be_visible()
    staff.get_by_role("button", name="Invite the panel").click()
    expect(staff.get_by_text("Invited 5")).to_be_visible()
    expect(staff.get_by_test_id("survey-counts")).to_have_text("0 of 5 invited answered")

    # Two German and one French customer answer; the customer base is 60 % DE.
    answers = [(customers[0], "No", "2"), (customers[1], "No", "2"), (customers[3], "Yes", "5")]
    for user, recommend, happy in answers[1:]:
        inv = SurveyInvitation.objects.get(party=user.person)
        panels.submit_answers(
            actor=user, invitation=inv, answers={"q1": [recommend], "q2": [happy]}
        )

    customer: Page = new_page(420, 900)
    customer_violations = _csp_watch(customer)
    customer.goto("/portal/login/")
    customer.get_by_label("E-mail").fill("nia@example.org")
    customer.get_by_label("Password").fill(PASSWORD)
    customer.get_by_role("button", name="Log in").click()
    expect(customer).to_have_url(re.compile(r"/portal/$"))
    customer.goto("/portal/surveys/")
    customer.get_by_role("link", name="How are we doing?").click()
    customer.get_by_role("button", name="Send my answers").click()  # nothing chosen
    expect(customer.get_by_text("Please answer this question.").first).to_be_visible()
    customer.get_by_label("No", exact=True).check()
    customer.locator("fieldset", has_text="How happy are you?").get_by_label(
        "2", exact=True
    ).check()
    customer.get_by_role("button", name="Send my answers").click()
    expect(customer.get_by_text("Thank you! Your answers were saved.")).to_be_visible()
    expect(customer.get_by_text(re.compile("answered .* thank you"))).to_be_visible()

    staff.reload()
    expect(staff.get_by_test_id("survey-counts")).to_have_text("3 of 5 invited answered")
    yes = staff.locator("section[data-question='1'] tbody tr", has_text="Yes")
    # Unweighted: 1 of 3 said yes; weighted to the base (40 % FR): 40 %.
    expect(yes.locator("[data-col=unweighted]")).to_have_text("33%")
    expect(yes.locator("[data-col=weighted]")).to_have_text("40%")
    assert staff_violations == [] and customer_violations == []
