"""Schemathesis against the whole API, in-process: no input may answer 5xx, and every
answer must match its own OpenAPI schema.

Every operation of ``/api/openapi.json`` is exercised as an admin and as an agent (real
API tokens) over a small demo data set, with record ids from that data in the paths so
the requests reach real records, not only 404s. Seeded and bounded: Hypothesis runs
derandomized, ``KITH_FUZZ_EXAMPLES`` examples per operation, user and mode (valid and
invalid input; default 2), without shrinking; each request runs in a savepoint that is rolled back, so one example's delete
does not starve the next. A failure lists every operation that failed, with a curl line to
reproduce it. It runs with the suite (so on SQLite and on PostgreSQL in CI).
"""

from __future__ import annotations

import itertools
import os
import re

import pytest
import schemathesis
from django.apps import apps
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.api import api
from kith.people.models import Party

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("KITH_FUZZ_EXAMPLES", "2"))
# For a developer chasing one failure: only the operations whose path matches this regex.
ONLY = re.compile(os.environ.get("KITH_FUZZ_ONLY", ""))
CHECKS = [not_a_server_error, response_schema_conformance]
# Valid requests (reach the services) and invalid ones (reach the validation): both must
# answer without a 5xx.
MODES = [
    GenerationMode(mode)
    for mode in os.environ.get("KITH_FUZZ_MODES", "positive,negative").split(",")
    if mode
]

# Path segments whose records are not named after their model.
SEGMENT_MODELS = {
    "people": ("people", "party", {"kind": "person"}),
    "organizations": ("people", "party", {"kind": "organization"}),
    "parties": ("people", "party", {}),
    "roles": ("people", "roletype", {}),
    "fields": ("people", "fielddefinition", {}),
    "imports": ("people", "importjob", {}),
    "tokens": ("accounts", "apitoken", {}),
    "calendars": ("service", "businesscalendar", {}),
    "exchange-rates": ("sales", "exchangerate", {}),
}
_PARAM = re.compile(r"/([^/{}]+)/\{(\w+)\}")


def _singular(segment: str) -> str:
    word = segment.replace("-", "")
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("ses"):
        return word[:-2]
    return word.removesuffix("s")


def _model_for(segment: str, app_hint: str):
    if segment in SEGMENT_MODELS:
        app_label, model_name, filters = SEGMENT_MODELS[segment]
        return apps.get_model(app_label, model_name), filters
    name = _singular(segment)
    candidates = [
        m
        for m in apps.get_models()
        if m._meta.model_name == name and any(f.name == "public_id" for f in m._meta.fields)
    ]
    candidates.sort(key=lambda m: m._meta.app_label != app_hint)
    return (candidates[0], {}) if candidates else (None, {})


def _real_path_parameters(path: str) -> dict[str, str]:
    """A real record's id for each ``{public_id}`` whose resource the data set holds."""
    found = {}
    parts = path.strip("/").split("/")
    app_hint = parts[1] if len(parts) > 1 else ""
    for segment, param in _PARAM.findall(path):
        if param != "public_id":
            continue
        model, filters = _model_for(segment, app_hint)
        if model is None:
            continue
        record = model.objects.filter(**filters).order_by("pk").first()
        if record is not None:
            found[param] = str(record.public_id)
    return found


@pytest.fixture
def demo_world(db):
    call_command(
        "demo", people=25, organizations=4, interactions=120, no_progress=True, verbosity=0
    )
    admin = User.objects.filter(role=Role.ADMIN, kind=User.Kind.STAFF).order_by("pk").first()
    agent = User.objects.filter(role=Role.AGENT, kind=User.Kind.STAFF).order_by("pk").first()
    assert admin is not None and agent is not None
    assert Party.objects.count() >= 25
    tokens = {}
    for label, user in (("admin", admin), ("agent", agent)):
        _, secret = account_services.issue_token(actor=user, user=user, name="fuzz")
        tokens[label] = secret
    # The WSGI handler closes "old" connections around each request; inside the test's
    # transaction that would close it (Django's test client does the same disconnect).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield tokens
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _run_operation(operation, token: str, path_parameters: dict, app, mode) -> None:
    strategy = operation.as_strategy(mode, path_parameters=path_parameters or None)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        savepoint = transaction.savepoint()
        try:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, app=app
            )
        finally:
            transaction.savepoint_rollback(savepoint)

    run()


def test_no_operation_answers_5xx_or_breaks_its_schema(demo_world):
    from kith.wsgi import application

    schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        if not ONLY.search(operation.path):
            continue
        path_parameters = _real_path_parameters(operation.path)
        for (label, token), mode in itertools.product(demo_world.items(), MODES):
            try:
                _run_operation(operation, token, path_parameters, application, mode)
            except Unsatisfiable:
                # No invalid value exists for this operation's parameters (a free-form
                # string in the path): nothing to send in the negative mode.
                assert mode == GenerationMode.NEGATIVE
            except (Exception, BaseExceptionGroup) as exc:  # every failure, not the first
                first = [line for line in str(exc).strip().splitlines() if line.strip()][:40]
                failures.append(
                    f"{operation.method.upper()} {operation.path} as {label} ({mode.value}):\n  "
                    + "\n  ".join(first)
                )
    assert operations > 150
    assert not failures, f"{len(failures)} failing operation(s):\n\n" + "\n\n".join(failures)
