"""Numbers typed by users (query parameters, form fields) and sent by remote servers
(headers) are read by one function, ``kith.core.inputs.whole_number``.

``str.isdigit`` was the trap: it accepts "²" and other digits that ``int()`` refuses,
and thousands of digits that ``int()`` refuses or a 64-bit column overflows on, so a
check with it followed by ``int()`` answered 500 in a dozen places (found in
community, listening, insights, global search, case search, imports). The source scan
below keeps the pattern from coming back.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from kith.accounts import services as account_services
from kith.core.inputs import whole_number
from kith.listening.sources.http import parse_retry_after
from tests.conftest import client_for

SRC = Path(__file__).resolve().parents[2] / "src" / "kith"
ODD = ["²", "٣", "1²", "9" * 5000, "12345678901234567890", "-3", " ", "4 2"]


@pytest.mark.parametrize(
    ("text", "signed", "expected"),
    [
        ("42", False, 42),
        (" 7 ", False, 7),
        ("0", False, 0),
        ("-3", True, -3),
        ("-3", False, None),
        ("²", False, None),
        ("٣", False, None),  # an Arabic-Indic digit: int() takes it, a column may not
        ("9" * 18, False, 10**18 - 1),
        ("9" * 19, False, None),
        ("9" * 5000, False, None),
        ("", False, None),
        (None, False, None),
        (12, False, None),  # only text is parsed
        ("1e3", False, None),
    ],
)
def test_whole_number(text, signed, expected):
    assert whole_number(text, signed=signed) == expected


def test_no_module_checks_numbers_with_isdigit():
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\.isdigit\(\)", line)
    ]
    assert offenders == [], "use kith.core.inputs.whole_number: " + ", ".join(offenders)


@pytest.mark.parametrize("q", ODD)
def test_global_search_with_odd_numbers_answers(alice, q):
    assert client_for(alice).get("/search/", {"q": q}).status_code == 200


@pytest.mark.parametrize("q", ODD)
def test_case_search_with_odd_numbers_answers(alice, api_as, q):
    assert client_for(alice).get("/service/", {"q": q}).status_code == 200
    assert api_as(alice).get("/api/cases", q=q).status_code == 200


@pytest.mark.parametrize("limit", ["²", "9" * 5000, "abc"])
def test_import_preview_limit_that_is_no_number_takes_the_default(alice, limit):
    _, secret = account_services.issue_token(actor=alice, user=alice, name="tests")
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    content = "Name,Email\n" + "".join(f"P{i},p{i}@example.com\n" for i in range(8))
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/api/imports/preview",
        {"file": SimpleUploadedFile("p.csv", content.encode()), "limit": limit},
    )
    assert response.status_code == 200, response.content
    assert len(response.json()["rows"]) == 5


@pytest.mark.parametrize(("header", "expected"), [("120", 120.0), ("²", None), ("-5", None)])
def test_retry_after_from_a_remote_server(header, expected):
    assert parse_retry_after(header) == expected
