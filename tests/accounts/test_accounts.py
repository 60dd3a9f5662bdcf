"""Logins, tokens hashed at rest, throttling and the admin command."""

from io import StringIO

import pytest
from django.core.management import call_command

from kith.accounts import services
from kith.accounts.models import ApiToken, User
from kith.core.errors import Throttled, ValidationFailed
from tests.conftest import PASSWORD, ApiClient

pytestmark = pytest.mark.django_db


def test_tokens_are_hashed_at_rest(alice):
    token, secret = services.issue_token(actor=alice, user=alice, name="ci")
    stored = ApiToken.objects.get(pk=token.pk)
    assert secret not in (stored.key_hash, stored.key_id)
    assert stored.key_hash == ApiToken.hash_secret(secret.split("_", 2)[2])


def test_token_api(alice):
    api = ApiClient(alice)
    r = api.post("/api/tokens", {"name": "script"})
    assert r.status_code == 201 and r.json()["token"].startswith("kith_")
    listed = api.get("/api/tokens").json()
    assert "token" not in listed[0]
    other = ApiClient(None)
    other.headers["Authorization"] = f"Bearer {r.json()['token']}"
    assert other.get("/api/me").json()["role"] == "admin"
    assert api.delete(f"/api/tokens/{r.json()['id']}").status_code == 204
    assert other.get("/api/me").status_code == 401


def test_login_throttling(rf, bob, settings):
    request = rf.post("/login/")
    for _ in range(settings.KITH_LOGIN_MAX_FAILURES):
        with pytest.raises(ValidationFailed):
            services.login_with_password(request, username="bob", password="wrong", ip="10.0.0.1")
    with pytest.raises(Throttled):
        services.login_with_password(request, username="bob", password=PASSWORD, ip="10.0.0.1")
    # Another address is not locked out by someone else's guessing.
    assert (
        services.login_with_password(request, username="bob", password=PASSWORD, ip="10.0.0.2")
        == bob
    )


def test_portal_user_needs_a_person(db):
    with pytest.raises(ValidationFailed) as err:
        services.create_user(actor=None, username="p", password=PASSWORD, kind=User.Kind.PORTAL)
    assert err.value.errors[0].field == "person"


def test_weak_passwords_are_refused(db):
    with pytest.raises(ValidationFailed) as err:
        services.create_user(actor=None, username="weak", password="password")
    assert {e.field for e in err.value.errors} == {"password"}


def test_createadmin_and_token_commands(db):
    out = StringIO()
    call_command("createadmin", "root", "--password", PASSWORD, stdout=out)
    assert User.objects.get(username="root").role == "admin"
    out = StringIO()
    call_command("issue_token", "root", "--name", "cli", stdout=out)
    assert out.getvalue().strip().startswith("kith_")


def test_production_refuses_the_old_published_secret():
    # The generated key and the other published keys: tests/core/test_secret_key.py.
    import subprocess
    import sys

    code = "import os; os.environ['SECRET_KEY']='kith-embedded-development-secret-do-not-use-in-production'; os.environ['DATABASE_URL']='postgres://x@localhost/x'; os.environ['DEBUG']='false'; import kith.settings"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )
    assert result.returncode != 0
    assert "published with Kith" in result.stderr
