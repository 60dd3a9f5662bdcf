"""Two concurrent votes by one person make one vote (PostgreSQL, real threads)."""

from __future__ import annotations

import pytest

from kith.ideas import services
from kith.ideas.models import IdeaVote
from tests.concurrency import require_postgres, run_together


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_votes_by_one_person_make_one_vote(restore_migration_seed):
    require_postgres()
    from kith.accounts import services as account_services
    from kith.accounts.models import Role
    from tests.ideas.conftest import portal_user

    admin = account_services.create_user(
        actor=None, username="adm", password="x" * 12, role=Role.ADMIN
    )
    category = services.create_category(actor=admin, name="Race", vote_budget=1)
    author = portal_user("writer")
    voter = portal_user("racer")
    first = services.create_idea(actor=author, title="One", body="b", category=category)
    second = services.create_idea(actor=author, title="Two", body="b", category=category)
    # Two votes on one idea, and two on another idea of a one-vote budget.
    _, errors = run_together(
        lambda idea: services.vote(actor=voter, idea=idea), [first, first, second, second]
    )
    votes = IdeaVote.objects.filter(voter=voter)
    assert votes.count() == 1  # the budget of one holds under the race
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.vote_count + second.vote_count == 1
    # The losers were told the budget was used, never a 500-class error.
    assert all(getattr(e, "status", None) == 422 for e in errors), errors
