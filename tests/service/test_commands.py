"""Management commands and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import imaplib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from kith.service.models import Case, SlaBreach
from tests.service.test_email import FakeImap


def test_kith_poll_imap_command(monkeypatch, settings, ana, queue, policies, tmp_media):
    monkeypatch.setattr(imaplib, "IMAP4", FakeImap)
    settings.KITH_IMAP_URL = "imap://u:p@imap.example.com/INBOX"
    out = StringIO()
    call_command("kith_poll_imap", stdout=out)
    assert "created: 1" in out.getvalue() and "bounce: 1" in out.getvalue()
    assert Case.objects.count() == 1


def test_kith_poll_imap_needs_a_url(settings):
    settings.KITH_IMAP_URL = ""
    with pytest.raises(CommandError):
        call_command("kith_poll_imap")


def test_kith_check_sla_command(new_case):
    case = new_case(at=dt.datetime.now(dt.UTC) - dt.timedelta(days=10))
    out = StringIO()
    call_command("kith_check_sla", stdout=out)
    assert "2 new breach(es)" in out.getvalue()
    assert SlaBreach.objects.filter(case=case).count() == 2


def test_openapi_lists_service_paths(api_as, alice):
    paths = api_as(alice).get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/cases",
        "/api/cases/{public_id}/transitions",
        "/api/cases/email",
        "/api/sla-policies",
        "/api/calendars",
        "/api/csat/{token}",
    ):
        assert path in paths, path
