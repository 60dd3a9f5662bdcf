"""The OpenAPI document is built once per process, not on every request."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.api import api


@pytest.mark.django_db
def test_openapi_document_is_built_once_and_served_from_cache() -> None:
    api.clear_openapi_cache()
    builds = api.openapi_builds
    first = Client().get("/api/openapi.json")
    assert first.status_code == 200
    assert api.openapi_builds == builds + 1
    second = Client().get("/api/openapi.json")
    assert second.status_code == 200
    # The same document, and the second request did not build it again.
    assert second.json() == first.json()
    assert api.openapi_builds == builds + 1
    assert "/api/people" in first.json()["paths"]


@pytest.mark.django_db
def test_docs_page_serves_without_building_again() -> None:
    Client().get("/api/openapi.json")
    builds = api.openapi_builds
    assert Client().get("/api/docs").status_code == 200
    assert Client().get("/api/openapi.json").status_code == 200
    assert api.openapi_builds == builds


def test_clear_forgets_the_document() -> None:
    api.get_openapi_schema()
    builds = api.openapi_builds
    assert api.get_openapi_schema() is api.get_openapi_schema()
    api.clear_openapi_cache()
    api.get_openapi_schema()
    assert api.openapi_builds == builds + 1
