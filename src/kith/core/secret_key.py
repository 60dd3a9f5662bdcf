"""The site's SECRET_KEY: from the environment, or generated once and kept in the data folder.

Everything Kith signs (sessions, CSRF tokens, CSAT links, calendar feed tokens) is only as
secret as this key, so no constant is ever accepted:

* ``SECRET_KEY`` set in the environment wins, unless it is one of the constants that were
  published with Kith (the old embedded default and the key the test scripts export);
  the test key is accepted only while pytest runs (pytest sets ``PYTEST_VERSION``).
* Otherwise a random key is made on first start and written to
  ``KITH_DATA_DIR/secret_key`` with mode 0600; later starts (and the worker, and every
  ``kith`` command) read the same file, so signed links survive restarts.

This module is imported by ``kith.settings`` and must not import Django models.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

KEY_FILE_NAME = "secret_key"
# Published constants: anyone who read Kith's source can sign with these.
OLD_EMBEDDED_SECRET = "kith-embedded-development-secret-do-not-use-in-production"
TEST_SECRET = "kith-test-secret-not-for-production"
KNOWN_SECRETS = frozenset({OLD_EMBEDDED_SECRET, TEST_SECRET})
MIN_LENGTH = 32


def running_tests() -> bool:
    """True inside a pytest session (and the processes its tests start)."""
    return bool(os.environ.get("PYTEST_VERSION"))


def resolve_secret_key(data_dir: Path, env_value: str | None) -> str:
    """The key to use: ``env_value`` when acceptable, else the data folder's key file."""
    if env_value:
        if env_value == TEST_SECRET and running_tests():
            return env_value
        if env_value in KNOWN_SECRETS:
            raise ImproperlyConfigured(
                "SECRET_KEY is set to a key published with Kith's source code; anyone could "
                "forge sessions and signed links with it. Unset SECRET_KEY (Kith then keeps "
                f"a random key in {data_dir / KEY_FILE_NAME}) or set a random one, e.g. "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'."
            )
        return env_value
    return load_or_create_key_file(data_dir / KEY_FILE_NAME)


def load_or_create_key_file(path: Path) -> str:
    """Read the key in ``path``; create it (random, mode 0600) when it does not exist.

    Two processes starting at once (``kith serve`` and ``kith worker``) must end up with
    the same key: the new key is written to a private temporary file and linked into
    place, which fails for the second process, which then reads the winner's file.
    """
    key = _read_key(path)
    if key is not None:
        return key
    tmp = path.parent / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"Cannot create the secret key file {path} ({exc.strerror}). Make KITH_DATA_DIR "
            "a readable and writable folder or set SECRET_KEY."
        ) from exc
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # Fails when another process won the race: then its key is the one to use.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    key = _read_key(path)
    if key is None:
        raise ImproperlyConfigured(f"Could not create the secret key file {path}.")
    return key


def _read_key(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ImproperlyConfigured(
            f"Cannot read the secret key file {path} ({exc.strerror}). Make KITH_DATA_DIR "
            "a readable and writable folder or set SECRET_KEY."
        ) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # A copied data folder can lose its modes; the key must stay private.
        os.chmod(path, 0o600)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_LENGTH or key in KNOWN_SECRETS:
        raise ImproperlyConfigured(
            f"The secret key file {path} holds a short or published key; delete it and "
            "Kith makes a new random one on its next start (signed links made with the "
            "old key stop working)."
        )
    return key
