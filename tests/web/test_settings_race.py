"""The last-admin rule holds when two admins demote or deactivate each other at once
(real threads, PostgreSQL only: SQLite serialises writers anyway)."""

from __future__ import annotations

import pytest

from kith.accounts import services
from kith.accounts.models import Role, User
from kith.core.errors import ValidationFailed
from tests.concurrency import require_postgres, run_together
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("how", ["deactivate", "demote"])
def test_two_admins_removing_each_other_leave_one(how):
    require_postgres()
    for _ in range(5):
        User.objects.all().delete()
        a = services.create_user(actor=None, username="ada", password=PASSWORD, role=Role.ADMIN)
        b = services.create_user(actor=None, username="ben", password=PASSWORD, role=Role.ADMIN)

        def remove(actor, user):
            if how == "deactivate":
                return lambda: services.set_user_active(actor=actor, user=user, active=False)
            return lambda: services.change_role(actor=actor, user=user, role=Role.AGENT)

        _, errors = run_together(lambda call: call(), [remove(a, b), remove(b, a)])
        assert len(errors) == 1 and isinstance(errors[0], ValidationFailed), errors
        admins = User.objects.filter(role=Role.ADMIN, is_active=True)
        assert admins.count() == 1
