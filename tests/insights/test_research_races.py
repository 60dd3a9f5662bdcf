"""Races on PostgreSQL with real threads: two invitations of one survey at once invite each
member once; two submissions of one invitation at once record one set of answers."""

from __future__ import annotations

import pytest

from kith.core.errors import Conflict
from kith.insights import panels
from kith.insights.models_research import SurveyAnswer, SurveyInvitation
from tests.concurrency import require_postgres, run_together


@pytest.fixture
def survey(restore_migration_seed):
    require_postgres()
    from kith.accounts import services as account_services
    from kith.accounts.models import Role
    from tests.insights.test_research_panels import _consent, _customer

    admin = account_services.create_user(
        actor=None, username="adm", password="x" * 12, role=Role.ADMIN
    )
    users = [_customer(i, "DE" if i % 2 else "FR") for i in range(12)]
    for u in users:
        _consent(u.person, True)
    panel = panels.build_panel(actor=admin, name="Race", size=12, strata=["region"], seed=1)
    made = panels.create_survey(
        actor=admin,
        panel=panel,
        title="Race",
        questions=[panels.QuestionInput(kind="single", text="?", choices=("A", "B"))],
    )
    return admin, users, made


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_invitations_invite_each_member_once(survey):
    admin, _, made = survey
    results, errors = run_together(lambda _: panels.invite(actor=admin, survey=made), range(2))
    assert not errors, errors
    assert sorted(r["invited"] for r in results) == [0, 12]
    assert sorted(r["already_invited"] for r in results) == [0, 12]
    assert SurveyInvitation.objects.filter(survey=made).count() == 12


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submissions_record_one_answer(survey):
    admin, users, made = survey
    panels.invite(actor=admin, survey=made)
    user = users[0]
    inv = SurveyInvitation.objects.get(survey=made, party=user.person)
    results, errors = run_together(
        lambda _: panels.submit_answers(actor=user, invitation=inv, answers={"q1": ["A"]}),
        range(2),
    )
    assert len(results) == 1
    assert len(errors) == 1 and isinstance(errors[0], Conflict), errors
    assert SurveyAnswer.objects.filter(invitation=inv).count() == 1
