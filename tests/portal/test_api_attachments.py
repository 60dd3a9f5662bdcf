"""Files on a customer's own case through the portal API: the same checks as the reply
form (count, empty, size; type from the name, never the client's), 404 on others' cases."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kith.service.models import Attachment
from tests.conftest import client_for


def _case(client: Client) -> str:
    r = client.post(
        "/api/portal/cases",
        json.dumps({"subject": "Broken", "body": "It broke"}),
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    return r.json()["id"]


def _upload(client: Client, case_id: str, files, body="See attached", **headers):
    return client.post(
        f"/api/portal/cases/{case_id}/attachments",
        {"body": body, "files": files},
        headers=headers,
    )


def test_customer_attaches_files_to_her_own_case(carol):
    client = client_for(carol)
    case_id = _case(client)
    # The client claims HTML; the stored type comes from the name.
    shot = SimpleUploadedFile("screen.png", b"\x89PNG\r\n\x1a\n....", content_type="text/html")
    r = _upload(client, case_id, [shot])
    assert r.status_code == 201, r.content
    (item,) = r.json()["attachments"]
    assert item["filename"] == "screen.png" and item["size"] == 12
    assert Attachment.objects.get().content_type == "image/png"
    download = client.get(item["url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")


def test_bad_files_are_422_naming_files(carol, settings):
    settings.KITH_PORTAL_MAX_ATTACHMENT_BYTES = 10
    client = client_for(carol)
    case_id = _case(client)
    big = _upload(client, case_id, [SimpleUploadedFile("big.txt", b"x" * 11)])
    assert big.status_code == 422 and big.json()["errors"][0]["field"] == "files"
    empty = _upload(client, case_id, [SimpleUploadedFile("empty.txt", b"")])
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "files"
    many = _upload(client, case_id, [SimpleUploadedFile(f"{i}.txt", b"x") for i in range(6)])
    assert many.status_code == 422 and many.json()["errors"][0]["field"] == "files"
    no_body = _upload(client, case_id, [SimpleUploadedFile("a.txt", b"x")], body="")
    assert no_body.status_code == 422
    assert Attachment.objects.count() == 0


def test_nobody_else_attaches_to_the_case(carol, olga, bob):
    case_id = _case(client_for(carol))
    file = SimpleUploadedFile("a.txt", b"x")
    assert _upload(client_for(olga), case_id, [file]).status_code == 404
    assert _upload(client_for(bob), case_id, [file]).status_code == 404
    assert _upload(Client(), case_id, [file]).status_code == 401
    assert Attachment.objects.count() == 0
