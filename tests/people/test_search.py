"""The people search service: what it finds, in what order, and what it never shows."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.people import access, merging, search, services
from kith.people.models import ContactPoint, Party
from kith.people.services import ContactInput, PartyInput
from tests.conftest import ApiClient, make_org, make_person

pytestmark = pytest.mark.django_db


def names(parties) -> list[str]:
    return [p.display_name for p in parties]


def find(q: str, queryset=None, **kwargs) -> list[str]:
    qs = Party.objects.active() if queryset is None else queryset
    return names(search.search(qs, q, **kwargs))


def test_exact_name(alice):
    make_person(alice, given="Ana", family="Lima")
    make_person(alice, given="Bruno", family="Costa")
    assert find("Ana Lima") == ["Ana Lima"]
    assert find("lima") == ["Ana Lima"]
    assert find("bru") == ["Bruno Costa"]  # a prefix, as people type


def test_accents_and_case_do_not_matter(alice):
    make_person(alice, given="José", family="Núñez")
    assert find("jose nunez") == ["José Núñez"]
    assert find("NÚÑEZ") == ["José Núñez"]


def test_typos_find_john_smith_first(alice):
    for given, family in [
        ("Jane", "Smith"),
        ("Jon", "Snow"),
        ("Tom", "Smyth"),
        ("John", "Smithers-Brown"),
        ("John", "Smith"),
        ("Mary", "Jones"),
    ]:
        make_person(alice, given=given, family=family)
    found = find("Jon Smyth")
    assert found[0] == "John Smith"
    assert "Mary Jones" not in found
    # One-letter slips that phonetic codes alone would miss.
    assert find("Jhon Simth")[0] == "John Smith"
    assert find("Jonh Smiht")[0] == "John Smith"


def test_email_full_and_prefix(alice):
    make_person(alice, given="Ana", family="Lima", email="ana.lima@example.com")
    make_person(alice, given="Anabel", family="Lee", email="anabel@example.org")
    assert find("ana.lima@example.com") == ["Ana Lima"]
    assert find("ANA.LIMA@EXAMPLE.COM") == ["Ana Lima"]
    assert find("ana.li") == ["Ana Lima"]
    assert find("ana.lima@") == ["Ana Lima"]
    assert find("anabel@example.org") == ["Anabel Lee"]


def test_phone_by_partial_digits(alice):
    make_person(alice, given="Ana", family="Lima", phone="+44 20 7946 0958")
    make_person(alice, given="Bruno", family="Costa", phone="+1 212 555 0100")
    assert find("7946 0958") == ["Ana Lima"]
    assert find("+4420794") == ["Ana Lima"]
    assert find("020 7946 0958") == ["Ana Lima"]  # national format
    assert find("+44 20 7946 0958") == ["Ana Lima"]
    assert find("(212) 555-0100") == ["Bruno Costa"]
    assert find("55501") == ["Bruno Costa"]


def test_handle_with_or_without_at(alice):
    ana = make_person(alice, given="Ana", family="Lima")
    services.add_contact_point(
        actor=alice, party=ana, contact=ContactInput("twitter", "@ana_codes")
    )
    services.add_contact_point(
        actor=alice, party=ana, contact=ContactInput("github", "https://github.com/analima-dev")
    )
    make_person(alice, given="Codes", family="Person")
    assert find("@ana_codes") == ["Ana Lima"]
    assert find("ana_codes") == ["Ana Lima"]
    assert find("@anacodes") == ["Ana Lima"]
    assert find("analima-dev") == ["Ana Lima"]
    assert find("@ana_co") == ["Ana Lima"]


def test_company_finds_its_people_and_itself_first(alice):
    globex = make_org(alice, "Globex Corporation")
    homer = make_person(alice, given="Homer", family="Simpson")
    services.add_relationship(actor=alice, subject=homer, role="employee", object=globex)
    make_person(alice, given="Marge", family="Simpson")
    assert find("globex") == ["Globex Corporation", "Homer Simpson"]
    assert find("homer globex") == ["Homer Simpson"]
    assert find("simpson globex") == ["Homer Simpson"]  # every word must match


def test_only_current_roles_count_as_company(alice):
    globex = make_org(alice, "Globex")
    homer = make_person(alice, given="Homer", family="Simpson")
    services.add_relationship(
        actor=alice,
        subject=homer,
        role="employee",
        object=globex,
        valid_from=dt.date(2010, 1, 1),
        valid_to=dt.date(2012, 1, 1),
    )
    assert find("globex") == ["Globex"]


def test_ending_a_role_drops_the_company_from_the_person(alice):
    globex = make_org(alice, "Globex")
    homer = make_person(alice, given="Homer", family="Simpson")
    rel = services.add_relationship(actor=alice, subject=homer, role="employee", object=globex)
    assert find("globex") == ["Globex", "Homer Simpson"]
    services.end_relationship(actor=alice, relationship=rel, on=dt.date(2020, 1, 1))
    assert find("globex") == ["Globex"]
    services.update_relationship(actor=alice, relationship=rel, valid_to=None)
    assert find("globex") == ["Globex", "Homer Simpson"]


def test_renaming_an_organisation_updates_its_people(alice):
    org = make_org(alice, "Globex")
    homer = make_person(alice, given="Homer", family="Simpson")
    services.add_relationship(actor=alice, subject=homer, role="employee", object=org)
    services.update_party(
        actor=alice, party=org, data=PartyInput(fields={"display_name": "Initech"})
    )
    assert find("initech") == ["Initech", "Homer Simpson"]
    assert find("globex") == []


def test_organisations_by_name(alice):
    make_org(alice, "Acme Ltd")
    make_org(alice, "Initech")
    make_person(alice, given="Acme", family="Fan")
    orgs = Party.objects.active().organizations()
    assert find("acme", orgs) == ["Acme Ltd"]
    assert find("acme ltd") == ["Acme Ltd"]
    assert find("inytech", orgs) == ["Initech"]


def test_merged_and_erased_parties_are_not_found(alice):
    keep = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    absorb = make_person(alice, given="Ana", family="Lima", email="ana.lima@work.example")
    erased = make_person(alice, given="Ana", family="Erased")
    merging.merge(actor=alice, keep=keep, absorb=absorb)
    Party.objects.filter(pk=erased.pk).update(status=Party.Status.ERASED)
    search.reindex([erased.pk])
    active = Party.objects.active()
    assert [p.pk for p in search.search(active, "ana")] == [keep.pk]
    # The survivor took the absorbed record's e-mail with it.
    assert [p.pk for p in search.search(active, "ana.lima@work.example")] == [keep.pk]
    # A queryset that does not filter status still sees no stale documents.
    assert [p.pk for p in search.search(Party.objects.all(), "ana")] == [keep.pk]


def test_queryset_scope_is_respected(alice, bob, dan):
    make_person(dan, given="Dora", family="Private", owner=dan, visibility="private")
    make_person(alice, given="Dora", family="Public")
    scope = access.staff_scope(bob).active()
    assert find("dora", scope) == ["Dora Public"]
    assert find("dora private", scope) == []
    assert sorted(find("dora", access.staff_scope(dan).active())) == [
        "Dora Private",
        "Dora Public",
    ]
    # The API goes through the same scope.
    items = ApiClient(bob).get("/api/people", q="dora").json()["items"]
    assert [i["display_name"] for i in items] == ["Dora Public"]


def test_scope_applies_before_the_candidate_bound(alice, monkeypatch):
    """A narrow scope still finds its match when the index holds many better ones."""
    monkeypatch.setattr(search, "MIN_CANDIDATES", 5)
    for i in range(12):
        make_person(alice, given="Sam", family=f"Common{i}")
    wanted = make_person(alice, given="Sam", family="Wanted", visibility="private", owner=alice)
    scope = Party.objects.active().filter(visibility="private")
    assert [p.pk for p in search.search(scope, "sam", limit=1)] == [wanted.pk]


def test_a_created_party_is_indexed_as_a_rebuild_would(alice):
    """Creates write the document from what they hold; it must equal the full rebuild."""
    person = services.create_party(
        actor=alice,
        data=PartyInput(
            kind=Party.Kind.PERSON,
            fields={"given_name": "Zoë", "family_name": "O'Hara-Lund"},
            contact_points=[
                ContactInput(channel="email", value="zoe.ohara@example.org"),
                ContactInput(channel="phone", value="+44 20 7946 0958"),
                ContactInput(channel="twitter", value="@ZoeOH"),
                ContactInput(channel="website", value="https://zoe.example.net/about"),
                ContactInput(channel="postal", value="1 Main Street, Springfield"),
            ],
        ),
    )
    written = Party.objects.get(pk=person.pk).search_text
    assert written
    search.reindex([person.pk])
    assert Party.objects.get(pk=person.pk).search_text == written
    for q in ("zoe ohara", "zoe.ohara@example.org", "7946 0958", "@zoeoh", "zoe.example.net"):
        assert find(q) == ["Zoë O'Hara-Lund"], q
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {search.FTS_TABLE} WHERE rowid = %s", [person.pk])
            assert cursor.fetchone()[0] == 1


def test_reindex_after_contact_point_changes(alice):
    ana = make_person(alice, given="Ana", family="Lima", email="old@example.com")
    point = ana.contact_points.get()
    services.update_contact_point(actor=alice, point=point, value="new.address@example.com")
    assert find("new.address@example.com") == ["Ana Lima"]
    assert find("old@example.com") == []
    services.remove_contact_point(actor=alice, point=ContactPoint.objects.get(pk=point.pk))
    assert find("new.address@example.com") == []
    services.add_contact_point(actor=alice, party=ana, contact=ContactInput("phone", "+4930123456"))
    assert find("30123456") == ["Ana Lima"]


def test_deleted_party_leaves_the_index(alice):
    ana = make_person(alice, given="Ana", family="Lima")
    services.delete_party(actor=alice, party=ana)
    assert find("ana") == []


def test_limit_and_ranking(alice):
    for family in ("Lima", "Limao", "Limassol", "Silva"):
        make_person(alice, given="Ana", family=family)
    assert find("ana lima")[0] == "Ana Lima"
    assert len(find("ana", limit=2)) == 2
    assert find("ana", limit=0) == []


@pytest.mark.parametrize(
    "q",
    [
        "",
        "   ",
        "!!!",
        "@",
        "*",
        '"',
        '"foo* OR (bar',
        "NEAR(a b)",
        "a AND OR NOT b",
        "col:value ^start -minus",
        "'); DROP TABLE people_party; --",
        "_m_n_d",
        "ünïcödé ☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 中文 عربى",
        "x" * 5000,
        "a " * 300,
    ],
)
def test_hostile_or_empty_queries_do_not_raise(alice, q):
    make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    result = search.search(Party.objects.active(), q)
    assert isinstance(result, list)
    if not q.strip() or q in ("!!!", "@", "*", '"'):
        assert result == []


def test_operators_in_queries_are_plain_words(alice):
    make_person(alice, given="Near", family="Orwell")
    assert find("near") == ["Near Orwell"]
    assert find('"near* OR (orwell') == ["Near Orwell"]


def test_reindex_all_rebuilds_bulk_loaded_parties(alice):
    make_person(alice, given="Ana", family="Lima")
    Party.objects.bulk_create(
        [
            Party(kind="person", display_name=f"Bulk Person{i}", sort_name=f"bulk person{i}")
            for i in range(5)
        ]
    )
    assert find("bulk") == []
    seen = []
    assert search.reindex_all(batch_size=2, progress=lambda done, total: seen.append(done)) == 6
    assert seen[-1] == 6
    assert len(find("bulk")) == 5
    assert find("ana lima") == ["Ana Lima"]


def test_reindex_command_rebuilds_the_index(alice):
    Party.objects.bulk_create(
        [Party(kind="person", display_name="Bulk Loaded", sort_name="loaded bulk")]
    )
    assert find("loaded") == []
    out = io.StringIO()
    call_command("reindex", "--quiet", stdout=out)
    assert "Indexed 1 parties." in out.getvalue()
    assert find("loaded") == ["Bulk Loaded"]


def test_documents_hold_no_tagged_tokens_in_plain_sections():
    doc = search.build_document(
        names=["John Smith"],
        contacts=[("email", "john.smith@example.com"), ("phone", "+442079460958")],
        companies=["Globex"],
    )
    lines = doc.split("\n")
    assert lines[0] == "john smith"
    assert "_msm0" in lines[1] and "_djon" in lines[1]
    assert "_ejohnsmithexamplecom" in lines[2]
    assert {"_f442079460958", "_p442079", "_p460958", "_p0958", "_p958"} <= set(lines[3].split())
    assert lines[5] == "globex"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram tier is PostgreSQL's")
def test_trigrams_catch_what_the_index_tiers_miss_on_postgresql(alice):
    make_person(alice, given="Ruth", family="Montgomery")
    make_person(alice, given="Ruth", family="Miller")
    # Two edits in one word: no shared deletion token, no shared phonetic code.
    assert find("Ruth Mongomary") == ["Ruth Montgomery"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL table")
def test_word_list_forgets_names_no_longer_indexed_on_postgresql(alice):
    def vocabulary() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT word FROM people_search_word")
            return {word for (word,) in cursor.fetchall()}

    ruth = make_person(alice, given="Ruth", family="Montgomery")
    miller = make_person(alice, given="Ruth", family="Miller")
    assert {"ruth", "montgomery", "miller"} <= vocabulary()
    with CaptureQueriesContext(connection) as unchanged:
        search.reindex([miller.pk])  # the same document: no word can have gone
    assert not [q for q in unchanged.captured_queries if "people_search_word" in q["sql"]]
    services.update_party(actor=alice, party=ruth, data=PartyInput(fields={"family_name": "Moss"}))
    assert "montgomery" not in vocabulary()
    services.delete_party(actor=alice, party=Party.objects.get(pk=ruth.pk))
    assert "moss" not in vocabulary()
    assert "ruth" in vocabulary()  # Ruth Miller still has it
    search.reindex_all()
    assert {"ruth", "miller"} <= vocabulary() and "moss" not in vocabulary()


def test_deleting_or_merging_an_organisation_updates_its_people(alice):
    globex = make_org(alice, "Globex")
    initech = make_org(alice, "Initech")
    homer = make_person(alice, given="Homer", family="Simpson")
    lenny = make_person(alice, given="Lenny", family="Leonard")
    services.add_relationship(actor=alice, subject=homer, role="employee", object=globex)
    services.add_relationship(actor=alice, subject=lenny, role="employee", object=initech)
    people = Party.objects.active().people()
    merging.merge(actor=alice, keep=initech, absorb=globex)
    assert find("globex", people) == []
    assert find("initech", people) == ["Homer Simpson", "Lenny Leonard"]
    services.delete_party(actor=alice, party=Party.objects.get(pk=initech.pk))
    assert find("initech", people) == []
    assert find("homer") == ["Homer Simpson"]


def test_the_worker_rebuilds_the_index_daily(alice):
    from django.core.cache import cache

    from kith.core import worker

    assert worker.periodic_jobs()["people.reindex"].every_seconds == 24 * 3600
    Party.objects.bulk_create(
        [Party(kind="person", display_name="Overnight Load", sort_name="load overnight")]
    )
    cache.delete("kith:periodic:people.reindex")
    assert "people.reindex" in worker.run_due_jobs()
    assert find("overnight") == ["Overnight Load"]


def test_a_query_of_first_letters_ranks_few_candidates_and_still_fills_the_page(alice, monkeypatch):
    for i in range(30):
        make_person(alice, given=f"Jonas{chr(97 + i % 26)}", family=f"Berg{i}")
    make_person(alice, given="Maria", family="Costa")
    caps: list[int] = []
    real = search._candidates
    monkeypatch.setattr(
        search,
        "_candidates",
        lambda qs, cond, cap, also=None: caps.append(cap) or real(qs, cond, cap, also),
    )
    found = find("Jo", limit=5)
    assert len(found) == 5 and all(name.startswith("Jonas") for name in found)
    assert caps and max(caps) == 5 * search.SHORT_QUERY_CANDIDATES_PER_RESULT
    # A longer word is ranked among the usual number of candidates.
    caps.clear()
    find("Jonasa", limit=5)
    assert max(caps) == search.MIN_CANDIDATES
