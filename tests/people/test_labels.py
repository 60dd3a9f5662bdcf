"""Error messages and import menus name fields by their labels, not internal keys.

Before, the error page read "valid_from: …" and the import mapping menu offered
``given_name``, ``attr:nps`` and ``handle:github``.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.test import RequestFactory

from kith.core.errors import ValidationFailed
from kith.people.labels import field_label, target_choices
from kith.people.models import FieldDefinition

pytestmark = pytest.mark.django_db


@pytest.fixture
def nps(db):
    return FieldDefinition.objects.create(key="nps", label="Net Promoter Score", type="number")


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("valid_from", "Start date"),
        ("given_name", "First name"),
        ("handle:github", "Github handle"),
        ("contact_points[1].value", "Contact 2"),
        ("Customer Since", "Customer Since"),  # a column header stays as written
        ("account_tier", "Account tier"),
    ],
)
def test_field_labels(name, label):
    assert field_label(name) == label


def test_custom_fields_use_their_label(nps):
    assert field_label("attr:nps") == "Net Promoter Score"
    assert field_label("attributes.nps") == "Net Promoter Score"
    choices = dict(target_choices(["given_name", "attr:nps", "handle:x"]))
    assert choices == {
        "given_name": "First name",
        "attr:nps": "Net Promoter Score",
        "handle:x": "X handle",
    }


def test_the_error_page_shows_labels():
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    html = render_to_string(
        "web/error.html",
        {"error": ValidationFailed.single("valid_from", "Must be before the end date.")},
        request=request,
    )
    assert "Start date</strong>: Must be before the end date." in html
    assert "valid_from" not in html


def test_the_import_mapping_menu_shows_labels(nps):
    html = render_to_string(
        "people/import.html",
        {
            "step": "map",
            "preview": {"targets": ["given_name", "attr:nps", "handle:github"], "rows": []},
            "columns": [{"index": 0, "header": "First", "target": "given_name", "samples": []}],
            "draft": {"format": "csv"},
        },
        request=_staff_request(),
    )
    assert '<option value="given_name" selected>First name</option>' in html
    assert '<option value="attr:nps">Net Promoter Score</option>' in html
    assert ">attr:nps<" not in html


def _staff_request():
    request = RequestFactory().get("/import/")
    request.user = AnonymousUser()
    return request
