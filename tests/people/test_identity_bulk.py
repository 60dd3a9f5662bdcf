"""New people scored set-wise (an import's batch of ``person.created``): the candidates
found for all of them at once, through everyone's stored blocking keys, are exactly the
people the model compares them with; changed people are scored (and keyed) again."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.people.identity import features, service, synthetic
from kith.people.identity.models import IdentityKey, IdentityModel, MatchSuggestion
from kith.people.models import Party
from tests.conftest import client_for
from tests.people.test_identity import _insert


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


def _rows(parties) -> dict[int, dict]:
    parties = list(parties)
    return {
        p.pk: features.to_row(r)
        for p, r in zip(parties, features.records_from_parties(parties), strict=True)
    }


def test_stored_and_probe_keys_meet_exactly_for_pairs_worth_scoring():
    """``probe_keys`` of one row meets ``stored_keys`` of another exactly when the two
    are worth scoring: the model compares them, or one mentions the other's handle."""
    gen = synthetic.generate(200, dup_rate=0.3, cross_channel=6, lookalikes=6, seed=5)
    rows = [features.to_row(r) for r in gen.records]
    # A signature naming another's handle, and nothing else in common, both ways round.
    rows += [
        {"unique_id": "h1", "given_name": "ana", "handles": ["ana_l"]},
        {"unique_id": "h2", "given_name": "bo", "seen_handles": ["ana_l"]},
    ]
    stored = [features.stored_keys(r) for r in rows]
    probes = [features.probe_keys(r) for r in rows]
    met = worth = by_handle = 0
    for i, a in enumerate(rows):
        for j, b in enumerate(rows):
            if i == j:
                continue
            expected = service._worth_scoring(a, b)
            assert (not probes[i].isdisjoint(stored[j])) is expected, (a, b)
            met += expected
            by_handle += expected and not features.compared(a, b)
            worth += 1
    # Not vacuous: many pairs met, some through a mentioned handle alone, most not.
    assert 100 < met < worth // 10 and by_handle > 0


def test_candidates_by_keys_are_the_active_people_worth_scoring(people):
    service.rebuild_keys()
    rows = _rows(people)
    found = service._candidates_by_keys(rows)
    expected = {
        pk: sorted(o for o in rows if o != pk and service._worth_scoring(row, rows[o]))
        for pk, row in rows.items()
    }
    assert found == {pk: ids for pk, ids in expected.items() if ids}
    # Not vacuous; and the merged "Ana Lima" (not in rows) was never keyed.
    assert sum(len(ids) for ids in found.values()) > len(people) // 2
    merged = Party.objects.get(status=Party.Status.MERGED)
    assert not IdentityKey.objects.filter(party=merged).exists()


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

    service.ensure_keys(service.active_model())  # once per model: not this batch's work
    with CaptureQueriesContext(connection) as queries:
        count = service.score_new_people(pks)
    together = stored()
    transactions = [q for q in queries if q["sql"].startswith("SAVEPOINT")]
    people_with_suggestions = {pk for pair in together for pk in pair if pk in set(pks)}
    assert count == len(together) > 0
    assert len(people_with_suggestions) > 10  # one transaction each, before
    # One for the batch's keys, then the suggestions in chunks.
    assert len(transactions) <= 1 + -(-count // service.STORE_CHUNK)
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
    service.rebuild_keys()
    rows = _rows(people)
    candidates = service._candidates_by_keys(rows)
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
    assert "2 new or changed people waiting to be scored" in out.getvalue()
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


def test_a_true_match_among_more_lookalikes_than_the_cap_is_still_a_candidate(db):
    """More people than ``MAX_CANDIDATES`` share one key with a new person (a common
    name); the cut keeps those sharing the most keys, not merely the oldest ids."""
    lookalikes = service.MAX_CANDIDATES + 10
    Party.objects.bulk_create(
        Party(kind="person", given_name="Maria", family_name="Okafor", sort_name="maria okafor")
        for _ in range(lookalikes)
    )
    twin = Party.objects.create(
        kind="person", given_name="Maria", family_name="Okafor", birthday=dt.date(1980, 2, 3)
    )
    new = Party.objects.create(
        kind="person", given_name="Mary", family_name="Okafor", birthday=dt.date(1980, 2, 3)
    )
    service.rebuild_keys()
    found = service._candidates_by_keys(_rows([new]))[new.pk]
    assert len(found) == service.MAX_CANDIDATES
    # Mary is a nickname-folded Maria: every lookalike shares that key; the twin also
    # shares the family name with the birthday, and is kept though its id is the newest.
    assert twin.pk in found
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
def test_the_key_lookup_reads_only_the_key_index(people):
    """A batch's candidates are found through the (key, party) index alone: at 100,000
    people it answers without reading the table or any person's record."""
    service.rebuild_keys()
    rows = _rows(people[:20])
    with CaptureQueriesContext(connection) as queries:
        service._candidates_by_keys(rows)
    lookup = [q["sql"] for q in queries.captured_queries if "people_identitykey" in q["sql"]]
    assert len(lookup) == 1
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {lookup[0]}")
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
    assert "COVERING INDEX identity_key_lookup" in plan, plan


def test_a_model_trained_before_keys_existed_gets_them_on_first_use(people, trained, monkeypatch):
    """A model trained before this version has no keys: the first scoring builds
    everyone's once (they found nobody otherwise), then never again for that model."""
    assert not IdentityKey.objects.exists() and trained.keys_version == ""
    pks = [p.pk for p in people]
    assert service.score_new_people(pks) > 0
    trained.refresh_from_db()
    assert trained.keys_version == features.KEYS_VERSION
    # Everyone with a key to store (a given name alone makes none), and nobody else.
    keyable = {pk for pk, row in _rows(people).items() if features.stored_keys(row)}
    assert set(IdentityKey.objects.values_list("party_id", flat=True)) == keyable
    assert len(keyable) > len(pks) - 5

    def again(*args, **kwargs):
        raise AssertionError("keys rebuilt twice for one model")

    monkeypatch.setattr(service, "rebuild_keys", again)
    service.score_new_people(pks[:5])


def test_a_changed_person_is_scored_again_and_found_by_their_new_details(
    trained, alice, monkeypatch
):
    """A person's keys are stored when they are scored; a change (here a postal
    address added) queues them again, so a later newcomer at that address finds them."""
    from kith.core import events
    from kith.people import services
    from kith.people.identity import model as engine

    address = "12 Main Street, Springfield 12345"

    def create(given: str, family: str, **contact) -> Party:
        return services.create_party(
            actor=alice,
            data=services.PartyInput(
                fields={"given_name": given, "family_name": family},
                contact_points=[services.ContactInput(**contact)],
            ),
        )

    ada = create("Ada", "Okafor", channel="email", value="ada@work.example")
    events.deliver_pending()
    service.score_queued()
    assert IdentityKey.objects.filter(party=ada).exists()
    services.add_contact_point(
        actor=alice, party=ada, contact=services.ContactInput(channel="postal", value=address)
    )
    events.deliver_pending()
    assert service.queued_count() == 1  # queued again by contact_point.added
    service.score_queued()
    scored: list[tuple[str, set[str]]] = []
    real = engine.score_many

    def spy(model, groups, **kwargs):
        scored.extend((new["unique_id"], {c["unique_id"] for c in cands}) for new, cands in groups)
        return real(model, groups, **kwargs)

    monkeypatch.setattr(engine, "score_many", spy)
    # Nothing but the new address in common (another name, no birthday or e-mail).
    newcomer = create("Zed", "Quill", channel="postal", value=address)
    events.deliver_pending()
    service.score_queued()
    assert scored == [(str(newcomer.pk), {str(ada.pk)})]


def test_erasure_removes_a_persons_keys(people, alice):
    """The keys are hashes of the person's names and contacts: erased with them."""
    from kith.cmr import erasure

    service.rebuild_keys()
    person, other = people[0], people[1]
    assert IdentityKey.objects.filter(party=person).exists()
    summary = erasure.erase(actor=alice, person=person)
    assert summary["people.IdentityKey"] > 0
    assert not IdentityKey.objects.filter(party=person).exists()
    assert IdentityKey.objects.filter(party=other).exists()


def test_a_backlog_is_scored_batch_by_batch_with_the_worker_between(people, trained, monkeypatch):
    """After each batch but the last, ``score_queued`` hands back to the worker (which
    delivers the events waiting); every queued person is scored and dequeued."""
    pks = [p.pk for p in people]
    service.queue_new_people(pks)
    monkeypatch.setattr(service, "SCORE_BATCH", 50)
    calls = []
    service.score_queued(between=lambda: calls.append(service.queued_count()))
    batches = -(-len(pks) // 50)
    assert len(calls) == batches - 1 and batches > 2
    assert calls == sorted(calls, reverse=True) and calls[-1] > 0
    assert service.queued_count() == 0
    assert MatchSuggestion.objects.exists()


def test_a_preloaded_model_scores_like_one_loaded_by_the_first_batch(people, trained):
    """The worker loads the model in use when it starts (a warm-up): the first batch
    then scores with it, and gets the pairs a model loaded by that batch gives."""
    from kith.core import worker
    from kith.people.identity import model as engine

    service.rebuild_keys()
    rows = _rows(people)
    candidates = service._candidates_by_keys(rows)
    groups = [(rows[pk], [rows[c] for c in ids]) for pk, ids in sorted(candidates.items())][:10]
    engine._loaded = None
    cold = engine.score_many(trained.model, groups, key=None)  # loaded for this call only
    assert engine._loaded is None

    assert "people.identity_model" in worker.run_warm_ups(worker.Role.BULK)
    assert engine._loaded is not None and engine._loaded[2] == 0  # loaded, not yet used
    assert service.preload_active_model() is False  # the same model: nothing to do
    warm = engine.score_many(trained.model, groups, key=service._model_key(trained))

    assert engine._loaded[2] == 1  # the preloaded linker scored the batch
    assert [sorted((p.left, p.right, round(p.probability, 9)) for p in g) for g in warm] == [
        sorted((p.left, p.right, round(p.probability, 9)) for p in g) for g in cold
    ]
    assert sum(len(g) for g in warm) > 0


def test_no_model_no_preload(db):
    from kith.people.identity import model as engine

    engine._loaded = None
    assert service.preload_active_model() is False
    assert engine._loaded is None


def test_queueing_adds_each_living_person_once(people, trained):
    """``queue_new_people``: one statement for a batch; ids of no party are skipped and a
    person already waiting is not queued twice (a redelivered batch adds nothing)."""
    from kith.people.identity.models import PendingIdentityScore

    PendingIdentityScore.objects.all().delete()
    first = [p.pk for p in people[:5]]
    missing = max(Party.objects.values_list("pk", flat=True)) + 1000
    assert service.queue_new_people([*first, missing]) == 5
    assert service.queue_new_people([*first, people[5].pk]) == 1
    assert sorted(PendingIdentityScore.objects.values_list("party_id", flat=True)) == sorted(
        [*first, people[5].pk]
    )
    assert all(row.queued_at is not None for row in PendingIdentityScore.objects.all())
