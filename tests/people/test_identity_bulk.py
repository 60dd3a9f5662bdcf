"""New people scored set-wise (an import's batch of ``person.created``): the candidates
found for all of them at once are those the one-person query finds for each."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.people.identity import features, service, synthetic
from kith.people.identity.models import IdentityModel, MatchSuggestion
from kith.people.models import Party
from tests.conftest import client_for
from tests.people.test_identity import _insert


def _one_by_one(pk: int, row: dict) -> list[int]:
    """What score_new_people found for one person before it went set-wise."""
    return list(
        Party.objects.people()
        .active()
        .exclude(pk=pk)
        .filter(service._candidate_query(row))
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)[: service.MAX_CANDIDATES]
    )


@pytest.fixture
def people(db) -> list[Party]:
    gen = synthetic.generate(120, dup_rate=0.3, cross_channel=6, lookalikes=6, seed=11)
    _insert(gen.records)
    # The other tests of _candidate_query: a name that only ends with a family name, a
    # given name and birthday, a given name alone, and a merged person (never found).
    Party.objects.create(kind="person", display_name="Dr Ana Lima", sort_name="dr ana lima")
    Party.objects.create(kind="person", given_name="Ana", family_name="Lima")
    Party.objects.create(
        kind="person", given_name="Bea", family_name="Okafor", birthday=dt.date(1990, 5, 1)
    )
    Party.objects.create(
        kind="person", given_name="bea", family_name="Stone", birthday=dt.date(1990, 5, 1)
    )
    Party.objects.create(kind="person", given_name="Zed", sort_name="zed")
    Party.objects.create(kind="person", display_name="Zed Ray", sort_name="zed ray")
    Party.objects.create(
        kind="person", given_name="Ana", family_name="Lima", status=Party.Status.MERGED
    )
    return list(Party.objects.people().active().order_by("pk"))


def test_candidates_for_many_are_those_found_one_by_one(people):
    rows = {
        p.pk: features.to_row(r)
        for p, r in zip(people, features.records_from_parties(people), strict=True)
    }
    many = service._candidates_many(rows)
    expected = {pk: _one_by_one(pk, row) for pk, row in rows.items()}
    assert {pk: ids for pk, ids in expected.items() if ids} == many
    # Not vacuous: contacts, family names and the other tests all found someone.
    assert sum(len(ids) for ids in many.values()) > len(people)


def test_score_new_people_stores_suggestions_for_a_batch(people):
    from kith.people.identity import model as engine

    gen = synthetic.generate(150, seed=9)
    IdentityModel.objects.create(
        status="done", model=engine.train([features.to_row(r) for r in gen.records])
    )
    pks = [p.pk for p in people]
    assert service.score_new_people(pks) > 0
    stored = set(MatchSuggestion.objects.values_list("left_id", "right_id"))
    assert stored and all(a < b for a, b in stored)
    # Scoring the batch again adds nothing new (the suggestions are upserted).
    service.score_new_people(pks)
    assert set(MatchSuggestion.objects.values_list("left_id", "right_id")) == stored
    # A decided pair stays decided when its people are scored again.
    rejected = MatchSuggestion.objects.order_by("pk").first()
    before = (rejected.probability, rejected.updated_at)
    MatchSuggestion.objects.filter(pk=rejected.pk).update(status=MatchSuggestion.Status.REJECTED)
    service.score_new_people(pks)
    rejected.refresh_from_db()
    assert rejected.status == MatchSuggestion.Status.REJECTED
    assert (rejected.probability, rejected.updated_at) == before


def test_a_batch_stores_its_suggestions_together_as_one_by_one_would(people):
    """Stored for the whole batch in a few short transactions, not one per person (a
    commit each was as costly as the scoring), and the same suggestions as scoring
    each person on their own stores."""
    from kith.people.identity import model as engine

    gen = synthetic.generate(150, seed=9)
    IdentityModel.objects.create(
        status="done", model=engine.train([features.to_row(r) for r in gen.records])
    )
    pks = [p.pk for p in people]

    def stored() -> dict[tuple[int, int], float]:
        return {
            (a, b): round(p, 9)
            for a, b, p in MatchSuggestion.objects.values_list("left_id", "right_id", "probability")
        }

    with CaptureQueriesContext(connection) as queries:
        count = service.score_new_people(pks)
    together = stored()
    transactions = [q for q in queries if q["sql"].startswith("SAVEPOINT")]
    people_with_suggestions = {pk for pair in together for pk in pair if pk in set(pks)}
    assert count == len(together) > 0
    assert len(people_with_suggestions) > 10  # one transaction each, before
    assert len(transactions) <= -(-count // service.STORE_CHUNK)
    MatchSuggestion.objects.all().delete()
    for pk in pks:
        service.score_new_people([pk])
    assert stored() == together


@pytest.mark.parametrize("max_pairs", [20_000, 50])
def test_score_many_gives_the_pairs_scored_one_by_one(people, max_pairs):
    """A batch scored in one model load (and, with a small ``max_pairs``, in several
    chunks) gives each new person the pairs and scores that ``score`` gives alone."""
    from kith.people.identity import model as engine

    gen = synthetic.generate(150, seed=9)
    model = engine.train([features.to_row(r) for r in gen.records])
    rows = {
        p.pk: features.to_row(r)
        for p, r in zip(people, features.records_from_parties(people), strict=True)
    }
    candidates = service._candidates_many(rows)
    groups = [(rows[pk], [rows[c] for c in ids]) for pk, ids in sorted(candidates.items())][:15]
    groups.append((rows[people[0].pk], []))  # nobody to compare with: nothing
    # Twice under one key: the second call scores with the model the first one loaded
    # (with other records: the records it was loaded with must not matter).
    engine.score_many(model, groups[5:], max_pairs=max_pairs, key=("test", max_pairs))
    many = engine.score_many(model, groups, max_pairs=max_pairs, key=("test", max_pairs))
    assert engine._loaded is not None and engine._loaded[0] == ("test", max_pairs)

    def key(pairs):
        return sorted(
            (p.left, p.right, round(p.probability, 9), p.weight, [r.__dict__ for r in p.reasons])
            for p in pairs
        )

    assert len(many) == len(groups) and many[-1] == []
    for (new, cands), got in zip(groups, many, strict=True):
        assert key(got) == key(engine.score(model, new, cands))
    assert sum(len(g) for g in many) > len(groups)  # not vacuous


@pytest.fixture
def trained(db) -> IdentityModel:
    from kith.people.identity import model as engine

    gen = synthetic.generate(150, seed=9)
    return IdentityModel.objects.create(
        status="done", model=engine.train([features.to_row(r) for r in gen.records])
    )


def test_compared_is_the_models_blocking_in_python(db):
    """``features.compared`` keeps exactly the pairs Splink's blocking rules compare
    (threshold 0 keeps every compared pair), so a new person scored alone meets the
    people a full run would compare them with."""
    from kith.people.identity import model as engine

    gen = synthetic.generate(200, dup_rate=0.3, cross_channel=6, lookalikes=6, seed=5)
    rows = [features.to_row(r) for r in gen.records]
    model = engine.train(rows)
    pairs, _ = engine.predict(model, rows, threshold=0.0)
    splink = {(p.left, p.right) for p in pairs}
    ours = {
        tuple(sorted((a["unique_id"], b["unique_id"])))
        for i, a in enumerate(rows)
        for b in rows[i + 1 :]
        if features.compared(a, b)
    }
    assert len(splink) > 100  # not vacuous: many pairs compared
    assert ours == splink


def test_a_new_person_is_scored_only_against_pairs_the_model_compares(trained, monkeypatch):
    from kith.people.identity import model as engine

    new = Party.objects.create(
        kind="person", given_name="Maria", family_name="Okafor", birthday=dt.date(1980, 2, 3)
    )
    namesake = Party.objects.create(kind="person", given_name="Paul", family_name="Okafor")
    same_birthday = Party.objects.create(
        kind="person", given_name="Mia", family_name="Okafor", birthday=dt.date(1980, 2, 3)
    )
    seen: list[set[str]] = []
    real = engine.score_many

    def spy(model, groups, **kwargs):
        seen.extend({c["unique_id"] for c in cands} for _, cands in groups)
        return real(model, groups, **kwargs)

    monkeypatch.setattr(engine, "score_many", spy)
    service.score_new_people([new.pk])
    # The family name alone found both; only the pair agreeing on family name and date
    # of birth (a blocking rule) is scored.
    assert seen == [{str(same_birthday.pk)}]
    assert str(namesake.pk) not in seen[0]


def test_new_people_are_queued_and_scored_in_one_batch_by_the_periodic_job(trained, alice):
    from kith.core import events, worker
    from kith.people import services
    from kith.people.identity.models import PendingIdentityScore

    def create(given: str, email: str) -> Party:
        return services.create_party(
            actor=alice,
            data=services.PartyInput(
                fields={"given_name": given, "family_name": "Okafor", "birthday": "1980-02-03"},
                contact_points=[services.ContactInput(channel="email", value=email)],
            ),
        )

    first = create("Ada", "ada.okafor@example.org")
    second = create("Ada", "ada.okafor@home.example")
    events.deliver_pending()
    # Delivered: queued, not yet scored.
    assert set(PendingIdentityScore.objects.values_list("party_id", flat=True)) == {
        first.pk,
        second.pk,
    }
    assert service.queued_count() == 2
    assert not MatchSuggestion.objects.exists()
    # The queue shows on the CLI and the admins' system page.
    out = StringIO()
    call_command("identity", "status", stdout=out)
    assert "2 new people waiting to be scored" in out.getvalue()
    page = client_for(alice).get("/system/").content.decode()
    assert re.search(r'id="identity-queue">2<', page)
    assert "people.identity_score_new" in worker.run_due_jobs()
    assert service.queued_count() == 0
    pair = MatchSuggestion.objects.get()
    assert (pair.left_id, pair.right_id) == (first.pk, second.pk)
    assert pair.status == MatchSuggestion.Status.OPEN


def test_nothing_is_queued_without_a_trained_model(db, alice):
    from kith.core import events
    from kith.people import services

    services.create_party(
        actor=alice, data=services.PartyInput(fields={"given_name": "Ada", "family_name": "Okafor"})
    )
    events.deliver_pending()
    assert service.queued_count() == 0


def test_a_true_match_among_more_namesakes_than_the_cap_is_still_a_candidate(db):
    """A common family name finds more people than ``MAX_CANDIDATES``; the cut keeps
    those with the same given name or birthday first, not merely the oldest ids."""
    namesakes = service.MAX_CANDIDATES + 10
    Party.objects.bulk_create(
        Party(
            kind="person",
            given_name=f"Given{i}",
            family_name="Okafor",
            display_name=f"Given{i} Okafor",
            sort_name=f"given{i} okafor",
        )
        for i in range(namesakes)
    )
    older = Party.objects.create(kind="person", given_name="Maria", family_name="Okafor")
    twin = Party.objects.create(
        kind="person", given_name="Paul", family_name="Okafor", birthday=dt.date(1980, 2, 3)
    )
    new = Party.objects.create(
        kind="person", given_name="Mary", family_name="Okafor", birthday=dt.date(1980, 2, 3)
    )
    rows = {new.pk: features.to_row(features.records_from_parties([new])[0])}
    found = service._candidates_many(rows)[new.pk]
    assert len(found) == service.MAX_CANDIDATES
    # Mary is a nickname-folded Maria; Paul shares the birthday: both strong.
    assert older.pk in found and twin.pk in found
    assert found == sorted(found)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # given name of one = family name of the other, same postcode (a one-sided rule)
        (
            {"given_name": "lee", "family_name": "ana", "postcode": "1000"},
            {"given_name": "kim", "family_name": "lee", "postcode": "1000"},
            True,
        ),
        # the two names swapped between the fields
        (
            {"given_name": "ana", "family_name": "lee"},
            {"given_name": "lee", "family_name": "ana"},
            True,
        ),
        # one shared e-mail among several (a list field)
        ({"emails": ["a@x.org", "b@x.org"]}, {"emails": ["c@x.org", "b@x.org"]}, True),
        # two fields of one rule (family name and birthday)
        (
            {"family_name": "lee", "birthday": "1980-01-02", "given_name": "ana"},
            {"family_name": "lee", "birthday": "1980-01-02", "given_name": "bo"},
            True,
        ),
        # only one field of each rule agrees
        (
            {"family_name": "lee", "birthday": "1980-01-02", "postcode": "1000"},
            {"family_name": "lee", "birthday": "1990-01-02", "postcode": "2000"},
            False,
        ),
        (
            {"given_name": "ana", "family_name": "lee"},
            {"given_name": "bo", "family_name": "kim"},
            False,
        ),
        # unknown values never agree
        ({"given_name": None, "birthday": None}, {"given_name": None, "birthday": None}, False),
    ],
)
def test_compared_follows_each_kind_of_blocking_rule_both_ways_round(a, b, expected):
    assert features.compared(a, b) is expected
    assert features.compared(b, a) is expected


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the plan checked is SQLite's (EXPLAIN QUERY PLAN)"
)
def test_the_namesake_lookup_reads_the_family_name_index(people):
    """A batch's namesakes are found through the index on lower(family_name), not by
    reading every party (at 100,000 people: 209 ms a batch of 400 without it, 48 with)."""
    rows = {
        p.pk: features.to_row(r)
        for p, r in zip(people[:20], features.records_from_parties(people[:20]), strict=True)
    }
    with CaptureQueriesContext(connection) as queries:
        service._candidates_many(rows)
    family = [
        q["sql"]
        for q in queries.captured_queries
        if 'LOWER("people_party"."family_name")' in q["sql"]
    ]
    assert family, "no family-name lookup ran"
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {family[0]}")
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
    assert "people_party_family_lower" in plan, plan
