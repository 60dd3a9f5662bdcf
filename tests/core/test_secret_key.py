"""SECRET_KEY: never a constant. Generated once per data folder (mode 0600), published keys
refused, and signed links made with the old published key do not verify."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from kith.core import secret_key
from kith.core.secret_key import OLD_EMBEDDED_SECRET, TEST_SECRET, resolve_secret_key


def _settings_process(tmp_path, code: str, **env_overrides: str | None):
    """Run ``code`` in a fresh interpreter after ``django.setup()`` with kith.settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DATABASE_URL", "DEBUG", "KITH_EMBEDDED"}
    }
    env.update(KITH_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="kith.settings")
    for name, value in env_overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    script = "import django; django.setup()\nfrom django.conf import settings\n" + code
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )


def test_first_start_generates_a_private_key_and_later_starts_reuse_it(tmp_path):
    first = _settings_process(tmp_path, "print(settings.SECRET_KEY)")
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert key not in {OLD_EMBEDDED_SECRET, TEST_SECRET} and len(key) >= 50
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = _settings_process(tmp_path, "print(settings.SECRET_KEY)")
    assert second.stdout.strip() == key
    # Another data folder, another key.
    other = _settings_process(tmp_path / "other", "print(settings.SECRET_KEY)")
    assert other.stdout.strip() not in {"", key}


def test_production_without_secret_key_also_gets_a_generated_key(tmp_path):
    run = _settings_process(
        tmp_path,
        "print(settings.SECRET_KEY)",
        DATABASE_URL="postgres://x@localhost/x",
        DEBUG="false",
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == (tmp_path / "secret_key").read_text().strip()


@pytest.mark.parametrize("debug", ["true", "false"])
def test_the_old_published_key_is_refused_everywhere(tmp_path, debug):
    run = _settings_process(
        tmp_path, "print('started')", SECRET_KEY=OLD_EMBEDDED_SECRET, DEBUG=debug
    )
    assert run.returncode != 0 and "started" not in run.stdout
    assert "published with Kith" in run.stderr


def test_the_test_key_is_refused_outside_a_test_run(tmp_path):
    outside = _settings_process(
        tmp_path, "print('started')", SECRET_KEY=TEST_SECRET, PYTEST_VERSION=None
    )
    assert outside.returncode != 0 and "published with Kith" in outside.stderr
    inside = _settings_process(tmp_path, "print(settings.SECRET_KEY)", SECRET_KEY=TEST_SECRET)
    assert inside.returncode == 0 and inside.stdout.strip() == TEST_SECRET


def test_csat_and_calendar_links_signed_with_the_old_key_do_not_verify(tmp_path):
    code = f"""
from django.core import signing
from django.test import override_settings
from kith.service import services
from kith.work import calendar
assert settings.SECRET_KEY != {OLD_EMBEDDED_SECRET!r}
forged = signing.TimestampSigner(key={OLD_EMBEDDED_SECRET!r}, salt=services.CSAT_SALT).sign(
    "0b7e1b5c-8f1e-4a5e-9d8e-2f0c1d2e3f40")
try:
    signing.TimestampSigner(salt=services.CSAT_SALT).unsign(forged)
except signing.BadSignature:
    print("csat-refused")
with override_settings(SECRET_KEY={OLD_EMBEDDED_SECRET!r}):
    old_mac = calendar._mac("feedkey")
print("calendar-differs" if old_mac != calendar._mac("feedkey") else "calendar-same")
"""
    run = _settings_process(tmp_path, code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["csat-refused", "calendar-differs"]


def test_key_file_rules(tmp_path, monkeypatch):
    key_file = tmp_path / "secret_key"
    key_file.write_text(OLD_EMBEDDED_SECRET)
    with pytest.raises(ImproperlyConfigured, match="short or published"):
        resolve_secret_key(tmp_path, None)
    key_file.write_text("x" * 60)
    key_file.chmod(0o644)
    assert resolve_secret_key(tmp_path, "") == "x" * 60
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # tightened
    assert resolve_secret_key(tmp_path, "an-operator-chosen-random-key") == (
        "an-operator-chosen-random-key"
    )
    monkeypatch.delenv("PYTEST_VERSION", raising=False)
    assert not secret_key.running_tests()
    with pytest.raises(ImproperlyConfigured):
        resolve_secret_key(tmp_path, TEST_SECRET)


def test_unwritable_data_folder_gives_a_clear_message(tmp_path):
    # Not a folder at all: fails for root too (a read-only mode would not stop root).
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(
        ImproperlyConfigured, match="KITH_DATA_DIR a readable and writable folder or set SECRET_KEY"
    ):
        resolve_secret_key(blocker, None)
