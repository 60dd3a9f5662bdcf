"""A person without consent for profiling gets no influence score and is not in the graph."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kith.cmr.models import Consent, Purpose
from kith.insights import queries, services
from tests.conftest import make_person
from tests.insights.test_influence import _mention

pytestmark = pytest.mark.django_db


def _consent(person, granted: bool) -> None:
    Consent.objects.create(
        person=person,
        purpose=Purpose.objects.get(key="profiling"),
        channel="any",
        granted=granted,
        changed_at=timezone.now(),
        source="portal",
    )


def test_only_people_who_consented_are_scored_when_consent_is_explicit(alice):
    Purpose.objects.filter(key="profiling").update(default_granted=False)
    star, fan, quiet = (make_person(None, given=n, family="C") for n in ("Star", "Fan", "Quiet"))
    _mention(fan, star)
    _mention(quiet, star)
    _consent(star, True)
    _consent(fan, True)
    run = services.request_influence_run(actor=alice)
    run.refresh_from_db()
    scores = queries.influence_score([star.pk, fan.pk, quiet.pk])
    assert set(scores) == {star.pk, fan.pk}
    assert run.node_count == 2 and run.edge_sources == {"mention": 1}


def test_a_withdrawal_removes_the_score_at_the_next_run(alice):
    star, fan = (make_person(None, given=n, family="W") for n in ("Star", "Fan"))
    _mention(fan, star)
    services.request_influence_run(actor=alice)
    assert set(queries.influence_score([star.pk, fan.pk])) == {star.pk, fan.pk}
    _consent(star, True)
    # Withdrawn: the consent row (one per person, purpose and channel) now says no.
    Consent.objects.filter(person=star).update(granted=False, changed_at=timezone.now())
    services.request_influence_run(actor=alice)
    assert queries.influence_score([star.pk, fan.pk]) == {}
