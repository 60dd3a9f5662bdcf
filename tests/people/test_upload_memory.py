"""Uploads cost bounded memory: a vCard with a 7 MB photo, through the API and the import.

A photo is never imported (Kith keeps no pictures of people), so the importer drops
PHOTO, LOGO, SOUND and KEY properties line by line, before anything decodes them, and
cards are parsed one at a time. Files larger than FILE_UPLOAD_MAX_MEMORY_SIZE go to a
temporary file rather than memory.
"""

from __future__ import annotations

import base64
import os
import tracemalloc

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kith.accounts import services as account_services
from kith.people import importing, vcard
from kith.people.models import ContactPoint, ImportJob, Party

pytestmark = pytest.mark.django_db

PHOTO_BYTES = 7 * 1024 * 1024


def _folded(prop: str, payload: str) -> str:
    """A property folded at 75 characters, as address books write it."""
    line = f"{prop}:{payload}"
    parts = [line[:75]] + [" " + line[i : i + 74] for i in range(75, len(line), 74)]
    return "\r\n".join(parts)


def _vcard_with_photo(n_photo_bytes: int = PHOTO_BYTES) -> bytes:
    photo = base64.b64encode(os.urandom(n_photo_bytes)).decode()
    cards = [
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Lima\r\nN:Lima;Ana;;;\r\n"
        "EMAIL;TYPE=work:ana@example.com\r\n"
        + _folded("PHOTO;ENCODING=b;TYPE=JPEG", photo)
        + "\r\nTEL;TYPE=cell:+44 20 7946 0958\r\nEND:VCARD\r\n",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bo Chen\r\nEMAIL:bo@example.com\r\n"
        + _folded("item1.LOGO", "data:image/png;base64," + photo[:200_000])
        + "\r\nEND:VCARD\r\n",
    ]
    return "".join(cards).encode()


def test_photos_are_dropped_before_parsing_and_the_rest_imports(alice):
    data = _vcard_with_photo(300_000)
    job = importing.create_import_job(
        actor=alice,
        kind="people",
        file_format="vcard",
        file_name="with-photo.vcf",
        content=data,
        mapping=None,
        dry_run=False,
    )
    assert "PHOTO" not in job.content and "LOGO" not in job.content
    assert len(job.content) < 1000  # the cards without their pictures
    assert "Photos and other pictures in the file are not imported" in job.message
    job = importing.run_import_job(job.pk)
    assert (job.created_count, job.error_count) == (2, 0), job.errors
    ana = Party.objects.get(display_name="Ana Lima")
    # The lines after the folded photo are read as usual.
    assert ContactPoint.objects.filter(party=ana, channel="phone").exists()


def test_a_seven_megabyte_photo_costs_bounded_memory(alice):
    data = _vcard_with_photo()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        job = importing.create_import_job(
            actor=alice,
            kind="people",
            file_format="vcard",
            file_name="big-photo.vcf",
            content=data,
            mapping=None,
            dry_run=False,
        )
        job = importing.run_import_job(job.pk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert job.created_count == 2
    # The upload itself (~9.6 MB of base64) and its text are held once each at most;
    # no decoded picture, no per-line copies. Before, it took several times the file.
    assert peak < 2.5 * len(data), (peak, len(data))  # measured: ~1.6 GB before


def test_uploads_above_the_memory_limit_go_to_disk():
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 2_621_440
    assert settings.FILE_UPLOAD_TEMP_DIR is None or os.path.isdir(settings.FILE_UPLOAD_TEMP_DIR)


def test_api_upload_of_a_large_vcard_imports_it(alice):
    _, secret = account_services.issue_token(actor=alice, user=alice, name="tests")
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    upload = SimpleUploadedFile("big.vcf", _vcard_with_photo(3 * 1024 * 1024), "text/vcard")
    response = client.post("/api/imports", {"file": upload})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["created"]) == ("done", 2)
    assert len(ImportJob.objects.get(public_id=body["id"]).content) < 1000


def test_a_card_too_large_even_without_pictures_is_rejected_alone(alice):
    huge_note = _folded("NOTE", "x" * (vcard.MAX_CARD_CHARS + 10))
    data = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Too Big\r\n" + huge_note + "\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Fine Card\r\nEND:VCARD\r\n"
    )
    job = importing.create_import_job(
        actor=alice,
        kind="people",
        file_format="vcard",
        file_name="big-note.vcf",
        content=data,
        mapping=None,
        dry_run=False,
    )
    job = importing.run_import_job(job.pk)
    assert job.created_count == 1
    assert job.errors[0]["row"] == 1 and "larger than" in job.errors[0]["message"]


def test_web_upload_keeps_no_picture_in_the_session(alice):
    from tests.conftest import client_for

    client = client_for(alice)
    upload = SimpleUploadedFile("big.vcf", _vcard_with_photo(3 * 1024 * 1024), "text/vcard")
    response = client.post("/import/", {"action": "upload", "file": upload, "kind": "people"})
    assert response.status_code == 200, response.content[:500]
    draft = response.context["draft"]
    assert draft["format"] == "vcard" and len(draft["content"]) < 1000
    assert "Ana Lima" in draft["content"] and "PHOTO" not in draft["content"]
    start = client.post("/import/", {"action": "start", "token": draft["token"]})
    assert start.status_code == 302
    assert ImportJob.objects.get().created_count == 2
