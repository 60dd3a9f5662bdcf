"""The import API: upload (multipart and JSON), job status, errors.csv, preview, access."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from kith.accounts import services as account_services
from kith.core.models import AuditEntry
from kith.people.models import ImportJob, Party

DATA = Path(__file__).parent / "data"


def upload(user, path: Path, **fields):
    """POST /api/imports as multipart, authenticated with a real token like ApiClient."""
    _, secret = account_services.issue_token(actor=user, user=user, name="tests")
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    with path.open("rb") as handle:
        return client.post("/api/imports", {"file": handle, **fields})


def test_multipart_upload_runs_the_import(bob, tmp_path):
    response = upload(bob, DATA / "people.csv", kind="people")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "done"  # the test task backend runs tasks at once
    assert (body["total_rows"], body["percent"]) == (8, 100)
    # No "tier" field is defined here, so the Tier column is left unmapped: Flo is fine.
    assert (body["created"], body["rejected"]) == (4, 4)
    assert body["errors"][0]["row"] == 4
    assert body["mapping"]["E-mail"] == "email"
    assert Party.objects.filter(kind="person").count() == 4
    assert Party.objects.get(display_name="Ana Lima").owner == bob


def test_multipart_upload_with_mapping_and_dry_run(alice):
    mapping = json.dumps({"First name": "given_name", "E-mail": "email"})
    response = upload(alice, DATA / "people.csv", mapping=mapping, dry_run="true")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["dry_run"] is True
    assert body["mapping"] == {"First name": "given_name", "E-mail": "email"}
    assert body["created"] == 6
    assert not Party.objects.exists()


def test_vcard_upload_guesses_the_format(alice):
    response = upload(alice, DATA / "contacts-v3.vcf")
    assert response.status_code == 201, response.content
    assert response.json()["format"] == "vcard"
    assert response.json()["created"] == 2


def test_json_upload(api_as, alice):
    response = api_as(alice).post(
        "/api/imports",
        {
            "kind": "organizations",
            "content": "Company,Website\nAcme,acme.example.com\n",
            "file_name": "orgs.csv",
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1
    assert Party.objects.get().kind == "organization"


def test_bad_file_and_bad_mapping_are_422(api_as, alice):
    api = api_as(alice)
    response = api.post("/api/imports", {"content": "ana@example.com,Ana\n"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"
    response = api.post("/api/imports", {"content": "Name\nAna\n", "mapping": {"Nope": "email"}})
    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "mapping.Nope",
        "message": "No such column in the file.",
    }
    response = api.post("/api/imports", {"content": "Name\nAna\n", "format": "xls"})
    assert response.status_code == 422
    assert not ImportJob.objects.exists()


def test_viewer_cannot_import(vic, api_as):
    response = api_as(vic).post("/api/imports", {"content": "Name\nAna\n"})
    assert response.status_code == 403
    assert upload(vic, DATA / "people.csv").status_code == 403
    assert api_as(vic).post("/api/imports/preview", {"content": "Name\nAna\n"}).status_code == 403
    assert not ImportJob.objects.exists()


def test_job_status_list_and_errors_csv(api_as, alice, bob, dan):
    job_id = upload(bob, DATA / "people.csv").json()["id"]
    api = api_as(bob)
    body = api.get(f"/api/imports/{job_id}").json()
    assert body["status"] == "done" and body["rejected"] == 4
    assert body["errors_url"] == f"/api/imports/{job_id}/errors.csv"
    response = api.get(f"/api/imports/{job_id}/errors.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="people-errors.csv"'
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert lines[0] == ["row", "field", "reason", "value"]
    assert len(lines) == 5
    assert [j["id"] for j in api.get("/api/imports").json()["items"]] == [job_id]
    # Another agent sees neither the job nor its errors; an admin sees both.
    assert api_as(dan).get(f"/api/imports/{job_id}").status_code == 404
    assert api_as(dan).get(f"/api/imports/{job_id}/errors.csv").status_code == 404
    assert api_as(dan).get("/api/imports").json()["items"] == []
    assert api_as(alice).get(f"/api/imports/{job_id}").status_code == 200


def test_job_list_is_paginated(api_as, alice):
    api = api_as(alice)
    for index in range(3):
        api.post("/api/imports", {"content": f"Name\nPerson {index}\n"})
    first = api.get("/api/imports", limit=2).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api.get("/api/imports", limit=2, cursor=first["next_cursor"]).json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None


def test_preview_suggests_a_mapping_and_shows_row_errors(api_as, alice):
    content = (DATA / "people.csv").read_text()
    response = api_as(alice).post("/api/imports/preview", {"content": content, "limit": 3})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["suggested"] is True
    assert body["mapping"]["Company"] == "organization"
    assert body["total_rows"] == 8
    assert [r["row"] for r in body["rows"]] == [2, 3, 4]
    assert body["rows"][2]["errors"][0]["field"] == "E-mail"
    assert not ImportJob.objects.exists()


def test_idempotency_key_replays_the_first_response(api_as, alice):
    api = api_as(alice)
    headers = {"Idempotency-Key": "import-1"}
    first = api.post("/api/imports", {"content": "Name\nAna\n"}, headers=headers)
    second = api.post("/api/imports", {"content": "Name\nAna\n"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert ImportJob.objects.count() == 1


# ---------------------------------------------------------------- CLI


def test_cli_import_prints_counts_and_rejected_rows(alice, tmp_path):
    errors = tmp_path / "errors.csv"
    out = io.StringIO()
    call_command(
        "import_people",
        str(DATA / "people.csv"),
        "--errors-out",
        str(errors),
        stdout=out,
        stderr=io.StringIO(),
    )
    text = out.getvalue()
    assert "Created 4, updated 0, unchanged 0, rejected 4 of 8 rows." in text
    assert "row 6, Birthday: Must be a date as YYYY-MM-DD. (1990-02-31)" in text
    assert len(errors.read_text().splitlines()) == 5
    entry = AuditEntry.objects.filter(action="person.created").first()
    assert (entry.channel, entry.actor) == ("import", alice)


def test_cli_import_with_map_dry_run_and_user(alice, bob):
    out = io.StringIO()
    call_command(
        "import_people",
        str(DATA / "people.csv"),
        "--map",
        "First name=given_name",
        "--map",
        "E-mail=email",
        "--dry-run",
        "--as",
        "bob",
        "--no-progress",
        stdout=out,
    )
    assert "Would create 6" in out.getvalue() and "Dry run" in out.getvalue()
    assert not Party.objects.exists()
    assert ImportJob.objects.get().created_by == bob


def test_cli_import_organisations_from_vcard(alice):
    out = io.StringIO()
    call_command(
        "import_people",
        str(DATA / "contacts-v4.vcf"),
        "--organizations",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert Party.objects.get().display_name == "Globex Corporation"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/file.csv"], "Cannot read /nonexistent/file.csv"),
        ([str(DATA / "people.csv"), "--map", "Nope=email"], "mapping.Nope: No such column"),
        ([str(DATA / "people.csv"), "--as", "nobody"], "No active staff user named 'nobody'"),
    ],
)
def test_cli_import_fails_clearly(alice, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("import_people", *args, stdout=io.StringIO(), stderr=io.StringIO())


def test_cli_import_needs_an_admin(db):
    with pytest.raises(CommandError, match="kith createadmin"):
        call_command("import_people", str(DATA / "people.csv"), stdout=io.StringIO())
