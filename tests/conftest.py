"""Shared fixtures: the named users (alice the admin, bob the agent, carol the customer,
mia the manager, vic the viewer), API clients authenticated as each, and factories."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from kith.accounts import services as account_services
from kith.accounts.models import Role, User
from kith.people import services as people_services
from kith.people.models import Party
from kith.people.services import ContactInput, PartyInput

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def migration_seed(django_db_setup, django_db_blocker) -> str:
    """The rows migrations put in a fresh test database (role vocabulary, default
    pipeline, activity types, content types), serialized before any test runs.

    A transactional test (live server, browser) empties every table when it ends;
    ``restore_migration_seed`` puts these rows back. Django's own serialized rollback
    cannot be used there: under Playwright's event loop the test sees another
    connection object than the one holding Django's snapshot.
    """
    from django.db import connection

    with django_db_blocker.unblock():
        return connection.creation.serialize_db_to_string()


def _restore_seed(migration_seed: str) -> None:
    """Put back every migration-seeded table a flush left empty.

    Checked table by table: a test may have recreated some seeded rows (a role type)
    while others (consent purposes, pipelines) are still missing.
    """
    from django.contrib.contenttypes.models import ContentType
    from django.core import serializers
    from django.core.management.color import no_style
    from django.db import connection, transaction

    # The flush's post_migrate signal recreated content types and permissions already
    # (under new ids); put back only the tables it left empty.
    rows = list(serializers.deserialize("json", migration_seed))
    models = {row.object.__class__ for row in rows}
    empty = {model for model in models if not model.objects.exists()}
    if not empty:
        return
    with transaction.atomic():
        for row in rows:
            if row.object.__class__ in empty:
                row.save()
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), list(empty)):
                cursor.execute(sql)
    ContentType.objects.clear_cache()


@pytest.fixture
def restore_migration_seed(transactional_db, migration_seed) -> None:
    """For transactional tests: the migration-seeded rows, back if a flush removed them."""
    _restore_seed(migration_seed)


def _flushes(item) -> bool:
    """Whether a test item empties the database when it ends (a transactional test)."""
    names = item.fixturenames
    if any(name in names for name in ("transactional_db", "live_server", "restore_migration_seed")):
        return True
    marker = item.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction"))


@pytest.fixture(autouse=True, scope="session")
def _snapshot_before_any_flush(request) -> None:
    # Take the snapshot at the start of the session, before a transactional test can
    # empty the database; only sessions that will need it (they flush the database).
    if any(_flushes(item) for item in request.session.items):
        request.getfixturevalue("migration_seed")


_flushed = {"since_restore": False}


def _uses_db(item) -> bool:
    return "db" in item.fixturenames or item.get_closest_marker("django_db") is not None


@pytest.fixture(autouse=True)
def _reseed_after_flush(request):
    """Before a database test that follows a transactional one, put the seeded rows back.

    A transactional test's flush empties every table; with xdist a plain ``db`` test may
    run after it in the same worker and must still find the migration-seeded rows
    (purposes, roles, pipelines). In a plain test the restore is rolled back with the
    test, so it happens again for the next one; a transactional test commits it.
    """
    node = request.node
    flushing = _flushes(node)
    if _flushed["since_restore"] and (flushing or _uses_db(node)):
        request.getfixturevalue("transactional_db" if flushing else "db")
        _restore_seed(request.getfixturevalue("migration_seed"))
        if flushing:
            _flushed["since_restore"] = False
    yield
    if flushing:
        _flushed["since_restore"] = True


@pytest.fixture(autouse=True)
def _fast_tests(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    from django.core.cache import cache

    cache.clear()


def login(user) -> Client:
    """A browser session logged in as ``user`` through the login form's check."""
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def client_for(user) -> Client:
    """A browser session for ``user`` without the password check (faster)."""
    client = Client()
    client.force_login(user)
    return client


def party_page(user, party: Party) -> str:
    """The HTML of ``party``'s page as ``user`` sees it (which must answer 200)."""
    response = client_for(user).get(f"/people/{party.public_id}/")
    assert response.status_code == 200
    return response.content.decode()


def make_person(
    actor=None,
    *,
    given="Ana",
    family="Lima",
    email=None,
    phone=None,
    owner=None,
    visibility="everyone",
    team=None,
    **fields,
) -> Party:
    contacts = []
    if email:
        contacts.append(ContactInput("email", email))
    if phone:
        contacts.append(ContactInput("phone", phone))
    return people_services.create_party(
        actor=actor,
        data=PartyInput(
            kind="person",
            fields={"given_name": given, "family_name": family, **fields},
            contact_points=contacts,
            owner=owner,
            visibility=visibility,
            team=team,
        ),
    )


def make_org(actor=None, name="Acme Ltd", **kwargs) -> Party:
    return people_services.create_party(
        actor=actor, data=PartyInput(kind="organization", fields={"display_name": name}, **kwargs)
    )


@pytest.fixture
def alice(db) -> User:
    return account_services.create_user(
        actor=None, username="alice", password=PASSWORD, role=Role.ADMIN
    )


@pytest.fixture
def mia(db) -> User:
    return account_services.create_user(
        actor=None, username="mia", password=PASSWORD, role=Role.MANAGER
    )


@pytest.fixture
def bob(db) -> User:
    return account_services.create_user(
        actor=None, username="bob", password=PASSWORD, role=Role.AGENT
    )


@pytest.fixture
def dan(db) -> User:
    """A second agent, to check agents cannot see each other's private records."""
    return account_services.create_user(
        actor=None, username="dan", password=PASSWORD, role=Role.AGENT
    )


@pytest.fixture
def vic(db) -> User:
    return account_services.create_user(
        actor=None, username="vic", password=PASSWORD, role=Role.VIEWER
    )


@pytest.fixture
def carol_person(db) -> Party:
    return make_person(None, given="Carol", family="Customer", email="carol@example.com")


@pytest.fixture
def carol(carol_person) -> User:
    return account_services.create_user(
        actor=None,
        username="carol",
        password=PASSWORD,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=carol_person,
    )


def signed_up_customer(email: str, *, given: str = "Erin", family: str = "Member") -> User:
    """A portal customer as sign-up makes them: the e-mail address is the username
    (and the login has no name of its own; the Person has it)."""
    return account_services.create_user(
        actor=None,
        username=email,
        email=email,
        password=PASSWORD,
        kind=User.Kind.PORTAL,
        role=Role.VIEWER,
        person=make_person(None, given=given, family=family),
    )


class ApiClient:
    """A JSON client for /api/ authenticated with a real bearer token of ``user``
    (a customer, who may hold no token, through a signed-in session instead)."""

    def __init__(self, user: User | None):
        self.client = Client()
        self.headers = {}
        if user is not None and user.is_portal:
            # Customers get no API tokens (kith.accounts.assignment): their session.
            self.client.force_login(user)
        elif user is not None:
            _, secret = account_services.issue_token(actor=user, user=user, name="tests")
            self.headers["Authorization"] = f"Bearer {secret}"

    def _call(self, method: str, path: str, data=None, headers=None, **params):
        kwargs = {"headers": {**self.headers, **(headers or {})}}
        if data is not None:
            kwargs["data"] = json.dumps(data, default=str)
            kwargs["content_type"] = "application/json"
        elif params:
            kwargs["data"] = params
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path, **params):
        return self._call("get", path, **params)

    def post(self, path, data=None, headers=None):
        return self._call("post", path, data if data is not None else {}, headers)

    def patch(self, path, data, headers=None):
        return self._call("patch", path, data, headers)

    def delete(self, path, headers=None):
        return self._call("delete", path, None, headers)


@pytest.fixture
def api_as():
    return ApiClient


@pytest.fixture
def postgres_only() -> None:
    """Skip the test unless it runs on PostgreSQL (race tests; see tests/concurrency.py)."""
    from tests.concurrency import require_postgres

    require_postgres()
