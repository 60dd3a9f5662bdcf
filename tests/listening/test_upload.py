"""Bulk upload of JSON Lines or CSV: every rejected row reported, nothing half-written."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kith.listening import pipeline, services
from kith.listening.models import Mention

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sentiment(monkeypatch):
    monkeypatch.setattr(pipeline, "score_sentiment", lambda texts: [("neutral", 0.5)] * len(texts))


@pytest.fixture
def source(alice):
    return services.create_source(actor=alice, data={"kind": "upload", "name": "Export"}).source


def upload(user, source, name: str, content: bytes):
    client = Client()
    client.force_login(user)
    return client.post(
        f"/api/listening/sources/{source.public_id}/upload",
        {"file": SimpleUploadedFile(name, content)},
    )


def jsonl(*rows) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def test_jsonl_upload_stores_every_row_and_repeating_it_stores_nothing(alice, source):
    body = jsonl(
        {"id": "1", "text": "first post", "channel": "twitter", "author_handle": "@ana"},
        {"id": "2", "text": "second post", "published_at": "2026-11-01T10:00:00+01:00"},
    )
    r = upload(alice, source, "export.jsonl", body)
    assert r.status_code == 201, r.content
    assert r.json()["created"] == 2
    assert Mention.objects.get(external_id="2").channel == "upload"
    again = upload(alice, source, "export.jsonl", body)
    assert again.json()["created"] == 0 and again.json()["duplicates"] == 2


def test_csv_upload(alice, source):
    body = (
        b"id,text,author_handle,author_followers,published_at\n"
        b"a,Loving it,@x,12,2026-11-02T08:00:00Z\n"
        b'b,"Quoted, with comma",@y,,\n'
    )
    r = upload(alice, source, "export.csv", body)
    assert r.status_code == 201, r.content
    assert Mention.objects.get(external_id="a").author_followers == 12
    assert Mention.objects.get(external_id="b").text == "Quoted, with comma"


def test_every_rejected_row_is_reported_and_nothing_is_stored(alice, source):
    body = (
        jsonl({"id": "1", "text": "fine"}, {"id": "2"}, {"text": "no id"})
        + b"\n{broken json\n"
        + jsonl(
            {"id": "5", "text": "x", "published_at": "soon"},
            {"id": "6", "text": "<p></p>"},
            {"id": "7", "text": "x", "author_followers": "many"},
        )
    )
    r = upload(alice, source, "export.jsonl", body)
    assert r.status_code == 422, r.content
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == [
        "line 2: text",
        "line 3: id",
        "line 4",
        "line 5: published_at",
        "line 6: text",  # the pipeline's refusal, reported in the file's order
        "line 7: author_followers",
    ]
    assert r.json()["code"] == "upload_rejected"
    assert not Mention.objects.exists()


def test_csv_without_the_required_columns_and_wrong_file_types(alice, source):
    r = upload(alice, source, "x.csv", b"identifier,body\n1,hi\n")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "header"
    r = upload(alice, source, "x.xlsx", b"PK\x03\x04")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = upload(alice, source, "x.csv", b"\xff\xfe\x00bad")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = upload(alice, source, "x.jsonl", b"\n\n")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"


def test_a_failure_while_storing_leaves_nothing_half_written(alice, source, monkeypatch):
    monkeypatch.setattr(services, "CHUNK", 2)
    real = services._ingest_chunk
    calls = []

    def second_chunk_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_ingest_chunk", second_chunk_fails)
    body = jsonl(*({"id": str(i), "text": f"post {i}"} for i in range(4)))
    with pytest.raises(RuntimeError):
        services.upload(actor=alice, source=source, data=body, filename="a.jsonl")
    assert not Mention.objects.exists()


def test_only_admins_and_managers_upload(bob, carol, source):
    body = jsonl({"id": "1", "text": "x"})
    assert upload(bob, source, "a.jsonl", body).status_code == 403
    assert upload(carol, source, "a.jsonl", body).status_code == 404
