"""Races on PostgreSQL with real threads: two invitations of one survey at once invite each
member once; two submissions of one invitation at once record one set of answers."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import close_old_connections, connection

from kith.core.errors import Conflict
from kith.insights import panels
from kith.insights.models_research import SurveyAnswer, SurveyInvitation


def _race(fn: Callable[[], object]) -> tuple[list, list[BaseException]]:
    barrier = threading.Barrier(2)
    results: list = []
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            results.append(fn())
        except BaseException as exc:
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.fixture
def survey(restore_migration_seed):
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent transactions need PostgreSQL")
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
    results, errors = _race(lambda: panels.invite(actor=admin, survey=made))
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
    results, errors = _race(
        lambda: panels.submit_answers(actor=user, invitation=inv, answers={"q1": ["A"]})
    )
    assert len(results) == 1
    assert len(errors) == 1 and isinstance(errors[0], Conflict), errors
    assert SurveyAnswer.objects.filter(invitation=inv).count() == 1
