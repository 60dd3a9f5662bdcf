"""The last-admin rule holds when two admins demote or deactivate each other at once
(real threads, PostgreSQL only: SQLite serialises writers anyway)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from kith.accounts import services
from kith.accounts.models import Role, User
from kith.core.errors import ValidationFailed
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def _run_together(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait()
            outcomes[i] = call()
        except ValidationFailed as exc:
            outcomes[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.parametrize("how", ["deactivate", "demote"])
def test_two_admins_removing_each_other_leave_one(how):
    if connection.vendor != "postgresql":
        pytest.skip("race test runs on PostgreSQL")
    for _ in range(5):
        User.objects.all().delete()
        a = services.create_user(actor=None, username="ada", password=PASSWORD, role=Role.ADMIN)
        b = services.create_user(actor=None, username="ben", password=PASSWORD, role=Role.ADMIN)

        def remove(actor, user):
            if how == "deactivate":
                return lambda: services.set_user_active(actor=actor, user=user, active=False)
            return lambda: services.change_role(actor=actor, user=user, role=Role.AGENT)

        outcomes = _run_together(remove(a, b), remove(b, a))
        assert sum(isinstance(o, ValidationFailed) for o in outcomes) == 1, outcomes
        admins = User.objects.filter(role=Role.ADMIN, is_active=True)
        assert admins.count() == 1
