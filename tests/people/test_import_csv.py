"""CSV import: mapping, dry run, per-row errors, idempotency and duplicate matching."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from kith.core.errors import ValidationFailed
from kith.core.events import batch_items
from kith.core.models import AuditEntry, OutboxEvent
from kith.people import importing, search, services, vocabulary
from kith.people.models import ContactPoint, ImportJob, Party, Relationship
from tests.conftest import make_org, make_person

DATA = Path(__file__).parent / "data"


@pytest.fixture
def tier(alice):
    return services.define_field(
        actor=alice, key="tier", label="Tier", type="choice", choices=["gold", "silver"]
    )


def run(actor, content, *, kind="people", mapping=None, dry_run=False, file_format="csv"):
    job = importing.create_import_job(
        actor=actor,
        kind=kind,
        file_format=file_format,
        file_name="test.csv",
        content=content,
        mapping=mapping,
        dry_run=dry_run,
    )
    return importing.run_import_job(job.pk)


def people_csv() -> bytes:
    return (DATA / "people.csv").read_bytes()


def emails() -> set[str]:
    return set(ContactPoint.objects.filter(channel="email").values_list("normalized", flat=True))


# ---------------------------------------------------------------- mapping


def test_suggest_mapping_knows_common_headers(tier):
    headers = [
        "First name",
        "Last Name",
        "E-mail",
        "E-mail 2 - Value",
        "Phone 1 - Type",
        "Mobile phone",
        "Company",
        "Twitter",
        "GitHub handle",
        "Tags",
        "Date of birth",
        "Tier",
        "Shoe size",
    ]
    mapping = importing.suggest_mapping(headers)
    assert mapping == {
        "First name": "given_name",
        "Last Name": "family_name",
        "E-mail": "email",
        "E-mail 2 - Value": "email",
        "Mobile phone": "phone",
        "Company": "organization",
        "Twitter": "handle:twitter",
        "GitHub handle": "handle:github",
        "Tags": "tags",
        "Date of birth": "birthday",
        "Tier": "attr:tier",
    }


def test_suggest_mapping_for_organisations_maps_company_to_the_name(db):
    mapping = importing.suggest_mapping(["Company", "Website", "Industry"], "organizations")
    assert mapping == {"Company": "display_name", "Website": "website", "Industry": "industry"}


def test_explicit_mapping_with_several_email_columns(alice):
    content = "Who,Mail,Other mail,Ignored\nAna Lima,ana@example.com,ana@work.example,x\n"
    job = run(
        alice,
        content,
        mapping={"Who": "display_name", "Mail": "email", "Other mail": "email", "Ignored": ""},
    )
    assert job.status == "done" and job.created_count == 1, job.errors
    ana = Party.objects.get(display_name="Ana Lima")
    points = list(ana.contact_points.filter(channel="email").order_by("id"))
    assert [p.normalized for p in points] == ["ana@example.com", "ana@work.example"]
    assert [p.primary for p in points] == [True, False]


def test_mapping_errors_are_reported_before_anything_runs(alice):
    content = "Name,Mail\nAna,ana@example.com\n"
    with pytest.raises(ValidationFailed) as exc:
        importing.create_import_job(
            actor=alice,
            kind="people",
            file_format="csv",
            file_name="x.csv",
            content=content,
            mapping={"Name": "display_name", "Nope": "email", "Mail": "shoe_size"},
            dry_run=False,
        )
    fields = {e.field: e.message for e in exc.value.errors}
    assert fields["mapping.Nope"] == "No such column in the file."
    assert "Unknown target 'shoe_size'" in fields["mapping.Mail"]
    assert not ImportJob.objects.exists()


def test_mapping_to_an_undefined_attribute_is_refused(alice):
    with pytest.raises(ValidationFailed) as exc:
        importing.create_import_job(
            actor=alice,
            kind="people",
            file_format="csv",
            file_name="x.csv",
            content="Name,Size\nAna,42\n",
            mapping={"Name": "display_name", "Size": "attr:shoe_size"},
            dry_run=False,
        )
    assert exc.value.errors[0].message == "Unknown attribute 'shoe_size'; define the field first."


def test_a_retired_field_is_neither_offered_nor_imported_into(alice, tier):
    assert "attr:tier" in importing.allowed_targets()
    assert importing.suggest_mapping(["Name", "Tier"]).get("Tier") == "attr:tier"
    vocabulary.set_field_active(actor=alice, definition=tier, active=False)
    assert "attr:tier" not in importing.allowed_targets()
    assert "Tier" not in importing.suggest_mapping(["Name", "Tier"])
    with pytest.raises(ValidationFailed) as exc:
        run(alice, "Name,Tier\nAna,gold\n", mapping={"Name": "display_name", "Tier": "attr:tier"})
    assert [(e.field, e.message) for e in exc.value.errors] == [
        (
            "mapping.Tier",
            "The field 'Tier' is retired; restore it in Settings → Custom fields to import into it.",
        )
    ]
    assert not Party.objects.filter(display_name="Ana").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"ana@example.com,Ana\nbo@example.com,Bo\n", "The first row looks like data"),
        (b"Name,Email\n", "The file has a header row but no data rows."),
        (b"\x00\x01\x02binary", "This is not a text file"),
        (b"Colour,Flavour\nred,sweet\n", "No column name was recognised"),
    ],
)
def test_unreadable_files_get_a_clear_error(alice, content, message):
    with pytest.raises(ValidationFailed) as exc:
        importing.create_import_job(
            actor=alice,
            kind="people",
            file_format="csv",
            file_name="x.csv",
            content=content,
            mapping=None,
            dry_run=False,
        )
    assert message in str(exc.value.errors[0].message)


def test_cp1252_file_is_read_with_a_warning(alice):
    job = run(alice, (DATA / "cp1252.csv").read_bytes())
    assert job.created_count == 1, job.errors
    assert "not UTF-8" in job.message
    person = Party.objects.get(kind="person")
    assert person.display_name == "José Müller"
    assert person.notes == "Café au lait"


def test_semicolon_delimited_file_with_bom(alice):
    content = "\ufeffFirst name;Last name;Email\r\nAna;Lima;ana@example.com\r\n".encode()
    job = run(alice, content)
    assert job.created_count == 1, job.errors
    assert Party.objects.get(kind="person").display_name == "Ana Lima"


# ---------------------------------------------------------------- rows


def test_good_rows_imported_and_every_bad_row_reported(alice, tier):
    job = run(alice, people_csv())
    assert job.status == "done"
    assert (job.total_rows, job.processed_rows) == (8, 8)
    assert job.created_count == 3
    assert job.error_count == 5
    by_row = {e["row"]: e for e in job.errors}
    assert set(by_row) == {4, 5, 6, 7, 8}
    assert by_row[4]["field"] == "E-mail"
    assert "@-sign" in by_row[4]["message"] or "email" in by_row[4]["message"].lower()
    assert by_row[5]["field"] == "Phone" and "phone" in by_row[5]["message"].lower()
    assert by_row[6] == {
        "row": 6,
        "field": "Birthday",
        "message": "Must be a date as YYYY-MM-DD.",
        "value": "1990-02-31",
    }
    assert by_row[7]["field"] == "First name"
    assert by_row[7]["message"] == "A person needs a name."
    assert by_row[8]["field"] == "Tier" and "Must be one of: gold, silver" in by_row[8]["message"]
    # Nothing of a rejected row is written.
    assert emails() == {"ana@example.com", "bo@example.com", "gus@example.com"}
    assert not Party.objects.filter(display_name__in=["Cy Diaz", "Di Evans", "Ed Fox"]).exists()

    ana = Party.objects.get(display_name="Ana Lima")
    assert str(ana.birthday) == "1985-04-12"
    assert ana.attributes == {"tier": "gold"}
    assert sorted(t.name for t in ana.tags.all()) == ["beta", "vip"]
    assert ana.contact_points.get(channel="twitter").normalized == "analima"
    assert ana.contact_points.get(channel="phone").normalized == "+442079460958"
    assert Party.objects.holding("customer").filter(pk=ana.pk).exists()
    assert ana.owner == alice


def test_organisation_column_creates_or_links_the_employer(alice, tier):
    acme = make_org(alice, "ACME LTD")
    run(alice, people_csv())
    ana = Party.objects.get(display_name="Ana Lima")
    gus = Party.objects.get(display_name="Gus Hill")
    bo = Party.objects.get(display_name="Bo Chen")
    # "Acme Ltd" and "acme ltd" both meet the existing "ACME LTD".
    assert set(Party.objects.holding("employee", of=acme)) == {ana, gus}
    globex = Party.objects.get(kind="organization", display_name="Globex")
    assert list(Party.objects.holding("employee", of=globex)) == [bo]
    assert Party.objects.filter(kind="organization").count() == 2


def test_imported_parties_are_indexed_as_a_rebuild_would(alice, tier):
    """An import writes the documents of the parties it creates from what it holds
    (names, contact points, employers); a full rebuild must change none of them."""
    make_org(alice, "ACME LTD")
    known = make_person(alice, given="Bo", family="Chen")
    run(alice, people_csv())
    imported = dict(Party.objects.exclude(pk=known.pk).values_list("pk", "search_text"))
    assert all(imported.values())
    search.reindex_all()
    assert dict(Party.objects.exclude(pk=known.pk).values_list("pk", "search_text")) == imported
    assert [p.display_name for p in search.search(Party.objects.all(), "acme analima")] == [
        "Ana Lima"
    ]
    assert "Globex" in [p.display_name for p in search.search(Party.objects.all(), "globex")]


def test_dry_run_counts_but_writes_nothing(alice, tier):
    audits, events = AuditEntry.objects.count(), OutboxEvent.objects.count()
    job = run(alice, people_csv(), dry_run=True)
    assert job.status == "done"
    assert (job.created_count, job.error_count) == (3, 5)
    assert "Dry run" in job.message and "Would also create 2 organisations" in job.message
    assert not Party.objects.exists()
    assert not ContactPoint.objects.exists()
    assert AuditEntry.objects.count() == audits
    assert OutboxEvent.objects.count() == events


def test_dry_run_sees_duplicates_across_chunks(alice, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK_SIZE", 2)
    content = "Name,Email\nAna,ana@example.com\nBo,bo@example.com\nAna L,ANA@example.com\n"
    job = run(alice, content, dry_run=True)
    assert (job.created_count, job.updated_count, job.unchanged_count) == (2, 0, 1)


def test_importing_the_same_file_twice_creates_nothing_new(alice, tier):
    first = run(alice, people_csv())
    counts = {
        model: model.objects.count() for model in (Party, ContactPoint, Relationship, AuditEntry)
    }
    second = run(alice, people_csv())
    assert second.created_count == 0
    assert second.updated_count == 0
    assert second.unchanged_count == first.created_count
    assert second.error_count == first.error_count
    assert "imported before" in second.message
    for model, count in counts.items():
        # Only the second job's own "import.finished" audit entry is new.
        assert model.objects.count() == count + (1 if model is AuditEntry else 0), model


def test_rows_without_keys_match_by_name_and_organisation(alice):
    content = "Name,Company\nAna Lima,Acme\nAna Lima,Globex\nBo Chen,\n"
    run(alice, content)
    again = run(alice, content)
    assert (again.created_count, again.unchanged_count) == (0, 3)
    assert Party.objects.filter(kind="person", display_name="Ana Lima").count() == 2
    assert Party.objects.filter(kind="person", display_name="Bo Chen").count() == 1


def test_external_id_makes_reruns_idempotent(alice):
    content = "ID,Name\nC-17,Ana Lima\nC-18,Ana Lima\n"
    first = run(alice, content)
    assert first.created_count == 2, first.errors
    second = run(alice, "ID,Name,Tags\nC-17,Ana Lima,vip\nC-18,Ana Lima,\n")
    assert (second.created_count, second.updated_count, second.unchanged_count) == (0, 1, 1)
    point = ContactPoint.objects.get(channel="external", value="C-17")
    assert point.normalized == "person:C-17"
    assert [t.name for t in point.party.tags.all()] == ["vip"]


def test_email_in_another_case_updates_the_existing_person(alice):
    ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com", title="")
    job = run(
        alice,
        "First name,Last name,Email,Title,Tags,Role\n"
        "Anna,Lima-Souza,ANA@Example.COM,CTO,vip,customer\n",
    )
    assert (job.created_count, job.updated_count) == (0, 1), job.errors
    ana.refresh_from_db()
    # Only empty fields are filled: the name stays, the empty title is set.
    assert (ana.given_name, ana.family_name, ana.title) == ("Ana", "Lima", "CTO")
    assert [t.name for t in ana.tags.all()] == ["vip"]
    assert Party.objects.holding("customer").filter(pk=ana.pk).exists()
    assert Party.objects.filter(kind="person").count() == 1
    entry = AuditEntry.objects.filter(action="person.updated", party_id=ana.pk).get()
    assert entry.channel == "import"
    assert entry.changes["title"] == [None, "CTO"]
    # One batch row for the chunk's updates, in the bulk lane, standing for one event.
    event = OutboxEvent.objects.filter(name="person.updated").get()
    assert (event.lane, event.batch_size) == ("bulk", 1)
    [item] = batch_items(event)
    assert item.object_id == ana.pk and item.object_public_id == ana.public_id
    assert "title" in item.data["changed"] and item.data["roles"] == ["customer"]


def test_duplicates_within_one_file_meet_each_other(alice):
    content = (
        "Name,Email,Phone,Tags\n"
        "Ana Lima,ana@example.com,,a\n"
        "Ana L.,ANA@EXAMPLE.COM,+44 20 7946 0958,b\n"
        "Someone,,+442079460958,\n"
    )
    job = run(alice, content)
    assert (job.created_count, job.updated_count, job.unchanged_count) == (1, 1, 1)
    ana = Party.objects.get(kind="person")
    assert ana.display_name == "Ana Lima"
    assert sorted(t.name for t in ana.tags.all()) == ["a", "b"]
    assert ana.contact_points.count() == 2


def test_row_matching_two_records_is_rejected(alice):
    make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    make_person(alice, given="Bo", family="Chen", phone="+44 20 7946 0958")
    job = run(alice, "Name,Email,Phone\nAna,ana@example.com,+44 20 7946 0958\n")
    assert job.error_count == 1 and job.created_count == 0
    error = job.errors[0]
    assert error["row"] == 2 and error["field"] == "Phone"
    assert "Ana Lima" in error["message"] and "Bo Chen" in error["message"]


def test_agent_cannot_update_a_private_record_of_another_agent(bob, dan):
    make_person(dan, given="Secret", family="Person", email="s@example.com", visibility="private")
    job = run(bob, "Name,Email,Tags\nSomebody,s@example.com,hacked\n")
    assert job.error_count == 1
    assert job.errors[0]["message"] == "This e-mail already belongs to a record you cannot see."
    assert "Secret" not in job.errors[0]["message"]
    assert not Party.objects.get(display_name="Secret Person").tags.exists()


def test_people_import_does_not_match_an_organisation(alice):
    make_org(
        alice, "Acme", contact_points=[services.ContactInput("email", "info@acme.example.org")]
    )
    job = run(alice, "Name,Email\nAna,info@acme.example.org\n")
    assert job.error_count == 1
    assert job.errors[0]["message"] == "This e-mail belongs to an organisation: Acme."


def test_organisations_import_matches_by_website(alice):
    make_org(alice, "Acme", contact_points=[services.ContactInput("website", "acme.example.org")])
    job = run(
        alice,
        "Company,Website,Industry,Role\nAcme Inc,https://www.acme.example.org/,Retail,partner\n",
        kind="organizations",
    )
    assert (job.created_count, job.updated_count) == (0, 1), job.errors
    acme = Party.objects.get(kind="organization")
    assert (acme.display_name, acme.industry) == ("Acme", "Retail")
    assert Party.objects.holding("partner").filter(pk=acme.pk).exists()


def test_unknown_role_and_wrong_kind_role_are_row_errors(alice):
    job = run(alice, "Name,Role\nAna,wizard\nBo,reseller\nCy,Customer\n")
    assert job.created_count == 1
    assert [e["message"] for e in job.errors] == [
        "Unknown role 'wizard'.",
        "The role Reseller applies to organisations only.",
    ]


def test_row_with_extra_cells_is_rejected(alice):
    job = run(alice, "Name,Email\nAna,ana@example.com,oops\nBo,bo@example.com\n")
    assert job.created_count == 1
    assert job.errors[0]["row"] == 2 and "header has 2" in job.errors[0]["message"]


def test_progress_is_reported_after_each_chunk(alice, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK_SIZE", 2)
    content = "Name\n" + "".join(f"Person {i}\n" for i in range(5))
    job = importing.create_import_job(
        actor=alice,
        kind="people",
        file_format="csv",
        file_name="x.csv",
        content=content,
        mapping=None,
        dry_run=False,
    )
    seen = []
    importing.run_import_job(job.pk, progress=lambda j: seen.append((j.processed_rows, j.percent)))
    assert seen == [(2, 40), (4, 80), (5, 100)]


def test_failed_job_resumes_after_the_last_saved_chunk(alice, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK_SIZE", 2)
    content = "Name\n" + "".join(f"Person {i}\n" for i in range(5))
    job = importing.create_import_job(
        actor=alice,
        kind="people",
        file_format="csv",
        file_name="x.csv",
        content=content,
        mapping=None,
        dry_run=False,
    )
    real_write = importing._Job.write
    calls = {"n": 0}

    def flaky_write(self, entities):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker died")
        return real_write(self, entities)

    monkeypatch.setattr(importing._Job, "write", flaky_write)
    with pytest.raises(RuntimeError):
        importing.run_import_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count) == ("failed", 2, 2)
    assert "run the import again" in job.message
    job = importing.run_import_job(job.pk)
    assert (job.status, job.processed_rows, job.created_count) == ("done", 5, 5)
    assert Party.objects.count() == 5


def test_each_created_party_gets_one_audit_entry_and_one_event(alice, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK_SIZE", 2)
    run(alice, "Name,Email\nAna,ana@example.com\nBo,bo@example.com\nCy,cy@example.com\n")
    created = AuditEntry.objects.filter(action="person.created")
    assert created.count() == 3
    assert set(created.values_list("channel", flat=True)) == {"import"}
    # One outbox row per chunk, standing for one person.created event per party.
    rows = OutboxEvent.objects.filter(name="person.created").order_by("id")
    assert [r.batch_size for r in rows] == [2, 1]
    items = [item for row in rows for item in batch_items(row)]
    assert sorted(i.object_id for i in items) == sorted(
        Party.objects.filter(kind="person").values_list("pk", flat=True)
    )
    assert {i.data["display_name"] for i in items} == {"Ana", "Bo", "Cy"}
    assert len({i.public_id for i in items}) == 3


def test_errors_csv_lists_row_field_and_reason(alice, tier):
    job = run(alice, people_csv())
    rows = list(csv.reader(io.StringIO(importing.errors_csv(job))))
    assert rows[0] == ["row", "field", "reason", "value"]
    assert [r[0] for r in rows[1:]] == ["4", "5", "6", "7", "8"]
    assert rows[3][:3] == ["6", "Birthday", "Must be a date as YYYY-MM-DD."]


def test_preview_shows_suggested_mapping_and_row_errors(alice):
    result = importing.preview(people_csv(), limit=3)
    assert result["suggested"] is True
    assert result["headers"][:3] == ["First name", "Last name", "E-mail"]
    assert result["mapping"]["E-mail"] == "email"
    assert result["total_rows"] == 8
    assert [r["row"] for r in result["rows"]] == [2, 3, 4]
    assert result["rows"][0]["mapped"]["email"] == "ana@example.com"
    assert result["rows"][2]["errors"][0]["field"] == "E-mail"
    assert "handle:twitter" in result["targets"]


def test_one_record_met_through_two_keys_in_different_chunks(alice, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK_SIZE", 1)
    make_person(alice, given="Ana", family="Lima", email="ana@example.com", phone="+442079460958")
    content = "Name,Email,Phone,Tags\nAna,ana@example.com,,x\nAna,,+44 20 7946 0958,x\n"
    dry = run(alice, content, dry_run=True)
    assert (dry.updated_count, dry.unchanged_count) == (1, 1)
    real = run(alice, content)
    assert (real.updated_count, real.unchanged_count) == (1, 1)


def test_email_cells_with_names_and_several_addresses(alice):
    content = (
        'Name,Email\nAna,"Ana Lima <ana@example.com>"\nBo,"bo@example.com; bo@work.example.com"\n'
    )
    job = run(alice, content)
    assert job.created_count == 2, job.errors
    assert emails() == {"ana@example.com", "bo@example.com", "bo@work.example.com"}


def test_website_of_another_person_is_rejected_not_stolen(alice):
    make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    services.add_contact_point(
        actor=alice,
        party=Party.objects.get(),
        contact=services.ContactInput("website", "https://acme.example.com"),
    )
    job = run(alice, "Name,Email,Website\nBo,bo@example.com,acme.example.com\n")
    assert job.created_count == 0
    assert job.errors[0]["field"] == "Website"
    assert job.errors[0]["message"] == "This website already belongs to Ana Lima."


def test_exported_id_column_finds_a_person_without_email(alice):
    bo = make_person(alice, given="Bo", family="Chen")
    job = run(alice, f"ID,Name,Title\n{bo.public_id},Bo C.,CTO\n")
    assert (job.created_count, job.updated_count) == (0, 1), job.errors
    bo.refresh_from_db()
    assert bo.title == "CTO"
    # Our own public id needs no external-id bookkeeping.
    assert not ContactPoint.objects.filter(channel="external").exists()


def test_dry_run_progress_is_saved_for_the_ui(alice, monkeypatch):
    monkeypatch.setattr(importing, "CHUNK_SIZE", 2)
    content = "Name\n" + "".join(f"Person {i}\n" for i in range(3))
    job = importing.create_import_job(
        actor=alice,
        kind="people",
        file_format="csv",
        file_name="x.csv",
        content=content,
        mapping=None,
        dry_run=True,
    )
    stored = []
    importing.run_import_job(
        job.pk,
        progress=lambda j: stored.append(ImportJob.objects.get(pk=j.pk).processed_rows),
    )
    assert stored == [2, 3]
