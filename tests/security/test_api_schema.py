"""The API's own description must be true: one schema per name, formats that say what
the answers hold (checked against real answers by tests/security/test_api_fuzz.py)."""

from __future__ import annotations

import re

import pytest

from kith.api import api

pytestmark = pytest.mark.django_db


def _api_models() -> dict[str, set[type]]:
    """Every pydantic model an operation reads or answers, by class name."""
    import inspect
    import typing

    from pydantic import BaseModel

    by_name: dict[str, set[type]] = {}

    def walk(annotation) -> None:
        for arg in typing.get_args(annotation):
            walk(arg)
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            seen = by_name.setdefault(annotation.__name__, set())
            if annotation in seen:
                return
            seen.add(annotation)
            for field in annotation.model_fields.values():
                walk(field.annotation)

    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                for model in operation.models:
                    if getattr(model, "__ninja_flatten_map__", None):
                        continue  # query/path/form models become parameters, not components
                    for field in model.model_fields.values():
                        walk(field.annotation)
                for response in (operation.response_models or {}).values():
                    if isinstance(response, type) and issubclass(response, BaseModel):
                        for field in response.model_fields.values():
                            walk(field.annotation)
    return by_name


def test_no_two_api_schemas_share_a_name():
    """ninja files every schema under its class name in the OpenAPI components; two
    classes with one name overwrite each other there, and clients (and the fuzzing above)
    then read one schema's rules for the other's data (sales' TimelineItemOut described
    the person timeline, portal's CaseOut the staff cases)."""
    clashes = {
        name: sorted(f"{c.__module__}.{c.__qualname__}" for c in classes)
        for name, classes in _api_models().items()
        if len(classes) > 1 and name != "NinjaResponseSchema"
    }
    assert clashes == {}


def test_a_deadline_time_is_a_wall_clock_time_in_the_spec_and_the_answer(alice, api_as):
    spec = api.get_openapi_schema()["components"]["schemas"]["ActivityOut"]
    variants = spec["properties"]["deadline_time"]["anyOf"]
    pattern = next(v["pattern"] for v in variants if v.get("type") == "string")
    client = api_as(alice)
    created = client.post(
        "/api/activities",
        {"type": "call", "summary": "Ring", "deadline": "2026-05-04", "deadline_time": "09:30"},
    )
    assert created.status_code == 201, created.content
    assert re.match(pattern, created.json()["deadline_time"])
    with_offset = client.post(
        "/api/activities",
        {"type": "call", "summary": "R", "deadline": "2026-05-04", "deadline_time": "09:30+02:00"},
    )
    assert with_offset.status_code == 422
    assert with_offset.json()["errors"][0]["field"] == "deadline_time"
