"""The case reply box keeps the kind last used (it fell back to the e-mailed reply)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def checked_kind(html: str) -> str:
    return re.search(r'<input[^>]*name="kind"[^>]*value="(\w+)"[^>]*checked', html).group(1)


def test_the_last_kind_stays_chosen(alice, new_case):
    case = new_case()
    client = client_for(alice)
    url = f"/service/cases/{case.public_id}/"
    assert checked_kind(client.get(url).content.decode()) == "reply"
    response = client.post(url + "messages/", {"kind": "note", "body": "Internal only."})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert checked_kind(page) == "note"
    assert "Internal: the customer never sees this note." in page
    client.post(url + "messages/", {"kind": "reply", "body": "Hello."})
    assert checked_kind(client.get(url).content.decode()) == "reply"
