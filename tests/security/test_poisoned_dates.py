"""Rows stored before input was bounded, with dates Python cannot read (PostgreSQL keeps
year 10000), must not turn every list that holds them into a 500 (kith.core.timestamps)."""

from __future__ import annotations

import pytest
from django.db import connection

from kith.core.timestamps import LATEST
from kith.interactions import services as interaction_services
from kith.interactions.models import Interaction
from tests.conftest import make_person

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def poisoned(alice):
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL stores dates beyond year 9999")
    person = make_person(alice)
    interaction, _ = interaction_services.log_interaction(
        actor=alice, party=person, channel="email", summary="from the far future"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Interaction._meta.db_table} SET occurred_at = "
            "'10000-01-01 04:59:59+00' WHERE id = %s",
            [interaction.pk],
        )
    return person, interaction


def test_the_interaction_list_and_timeline_still_answer(alice, api_as, poisoned):
    person, interaction = poisoned
    api = api_as(alice)
    listed = api.get("/api/interactions")
    assert listed.status_code == 200
    item = next(i for i in listed.json()["items"] if i["id"] == str(interaction.public_id))
    assert item["occurred_at"].startswith("9999-12-30")
    timeline = api.get(f"/api/people/{person.public_id}/timeline")
    assert timeline.status_code == 200


def test_the_person_page_still_renders(alice, poisoned):
    from tests.conftest import party_page

    person, _ = poisoned
    assert "from the far future" in party_page(alice, person)


def test_the_model_reads_the_nearest_date(poisoned):
    _, interaction = poisoned
    assert Interaction.objects.get(pk=interaction.pk).occurred_at == LATEST
