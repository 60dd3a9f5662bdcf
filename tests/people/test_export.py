"""CSV and vCard export: filters, permissions, formula guard, round trip, CLI and API."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from kith.people import exporting, importing, services
from kith.people.models import Party
from kith.people.queries import PartyFilters
from tests.conftest import make_org, make_person


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def export(user, kind="person", **filters) -> list[dict[str, str]]:
    out = io.StringIO()
    qs = exporting.export_queryset(user, PartyFilters(**filters), kind=kind)
    exporting.export_csv(qs, out, kind=kind)
    return rows(out.getvalue())


@pytest.fixture
def people(alice, bob, dan):
    acme = make_org(alice, "Acme Ltd")
    ana = make_person(alice, given="Ana", family="Lima", email="ana@example.com")
    services.update_party(actor=alice, party=ana, data=services.PartyInput(tags=["vip"]))
    services.add_relationship(actor=alice, subject=ana, role="customer")
    services.add_relationship(actor=alice, subject=ana, role="employee", object=acme)
    services.add_contact_point(
        actor=alice, party=ana, contact=services.ContactInput("twitter", "@analima")
    )
    bo = make_person(alice, given="Bo", family="Chen", phone="+44 20 7946 0958")
    secret = make_person(
        dan, given="Dan's", family="Secret", owner=dan, visibility="private", email="s@example.org"
    )
    mine = make_person(bob, given="Bob's", family="Own", owner=bob, visibility="private")
    return {"acme": acme, "ana": ana, "bo": bo, "secret": secret, "mine": mine}


def test_csv_export_columns_and_values(alice, people):
    exported = export(alice)
    assert [r["name"] for r in exported] == ["Ana Lima", "Bo Chen", "Bob's Own", "Dan's Secret"]
    ana = exported[0]
    assert ana["id"] == str(people["ana"].public_id)
    assert ana["email"] == "ana@example.com"
    assert ana["organization"] == "Acme Ltd"
    assert ana["roles"] == "customer"
    assert ana["tags"] == "vip"
    assert ana["twitter"] == "'@analima"  # guarded like a formula; the importer strips it
    assert exported[1]["phone"] == "+44 20 7946 0958"


def test_csv_export_honours_filters(alice, people):
    assert [r["name"] for r in export(alice, tag="vip")] == ["Ana Lima"]
    assert [r["name"] for r in export(alice, role="customer")] == ["Ana Lima"]
    org = str(people["acme"].public_id)
    assert [r["name"] for r in export(alice, organization=org)] == ["Ana Lima"]
    assert [r["name"] for r in export(alice, q="Bo")] == ["Bo Chen", "Bob's Own"]
    orgs = export(alice, kind="organization")
    assert [r["name"] for r in orgs] == ["Acme Ltd"]
    assert "given_name" not in orgs[0]


def test_agent_export_leaves_out_other_agents_private_records(bob, people):
    names = [r["name"] for r in export(bob)]
    assert "Dan's Secret" not in names
    assert "Bob's Own" in names


def test_export_guards_against_spreadsheet_formulas(alice):
    make_person(alice, given='=HYPERLINK("http://x")', family="", phone="+44 20 7946 0958")
    exported = export(alice)[0]
    assert exported["name"].startswith("'=HYPERLINK")
    assert exported["phone"] == "+44 20 7946 0958"  # a phone number is left alone


def test_exported_csv_imports_back_without_duplicates(alice, people):
    out = io.StringIO()
    qs = exporting.export_queryset(alice, PartyFilters(), kind="person")
    exporting.export_csv(qs, out)
    before = Party.objects.count()
    job = importing.create_import_job(
        actor=alice,
        kind="people",
        file_format="csv",
        file_name="people.csv",
        content=out.getvalue(),
        mapping=None,
        dry_run=False,
    )
    assert job.mapping["id"] == "external_id"
    assert job.mapping["twitter"] == "handle:twitter"
    job = importing.run_import_job(job.pk)
    assert (job.created_count, job.updated_count, job.error_count) == (0, 0, 0), job.errors
    assert job.unchanged_count == 4
    assert Party.objects.count() == before


def test_vcard_export_streams_every_visible_person(bob, people):
    qs = exporting.export_queryset(bob, PartyFilters(), kind="person")
    out = io.StringIO()
    assert exporting.export_vcard(qs, out, version="3.0") == 3
    assert "Dan's Secret" not in out.getvalue()
    assert out.getvalue().count("VERSION:3.0") == 3


# ---------------------------------------------------------------- CLI


def test_cli_export_to_a_file_with_filters(alice, people, tmp_path):
    target = tmp_path / "vip.csv"
    call_command("export_people", "--tag", "vip", "-o", str(target), stderr=io.StringIO())
    assert [r["name"] for r in rows(target.read_text())] == ["Ana Lima"]


def test_cli_export_as_an_agent_to_stdout_as_vcard(bob, people):
    out = io.StringIO()
    call_command("export_people", "--format", "vcard", "--as", "bob", stdout=out)
    assert out.getvalue().count("BEGIN:VCARD") == 3


def test_cli_export_with_a_bad_filter_fails_clearly(alice):
    with pytest.raises(CommandError, match="Must be an organisation id"):
        call_command("export_people", "--organization", "nope", stdout=io.StringIO())


# ---------------------------------------------------------------- API


def test_api_csv_export_follows_filters_and_scope(api_as, bob, people):
    response = api_as(bob).get("/api/people/export.csv")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="people-')
    names = [r["name"] for r in rows(b"".join(response.streaming_content).decode())]
    assert names == ["Ana Lima", "Bo Chen", "Bob's Own"]
    response = api_as(bob).get("/api/people/export.csv", tag="vip")
    assert [r["name"] for r in rows(b"".join(response.streaming_content).decode())] == ["Ana Lima"]


def test_api_organisations_and_vcard_exports(api_as, vic, people):
    response = api_as(vic).get("/api/organizations/export.csv")
    assert response.status_code == 200
    assert [r["name"] for r in rows(b"".join(response.streaming_content).decode())] == ["Acme Ltd"]
    response = api_as(vic).get("/api/people/export.vcf", version="3.0")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/vcard; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    # A viewer sees what everyone sees: neither agent's private person.
    assert body.count("BEGIN:VCARD") == 2 and "VERSION:3.0" in body


def test_api_export_bad_filter_is_422_and_portal_user_gets_404(api_as, alice, carol):
    response = api_as(alice).get("/api/people/export.csv", organization="nope")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "organization"
    assert api_as(carol).get("/api/people/export.csv").status_code == 404
