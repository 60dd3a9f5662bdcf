"""Kantara Consent Receipt v1.1 structures, signed as compact JWS (ES256, joserfc).

The signing key is an EC P-256 key generated on first use and kept in
``KITH_DATA_DIR/consent-receipt-key.json`` with mode 0600 (never a constant in code).
Its public half is published as a JWKS at ``/.well-known/jwks.json`` so anyone can
verify a receipt offline.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from kith.core.errors import ValidationFailed

KEY_FILE_NAME = "consent-receipt-key.json"
ALGORITHM = "ES256"
VERSION = "KI-CR-v1.1.0"

_lock = threading.Lock()
_cache: dict[str, ECKey] = {}


def _key_path() -> Path:
    return Path(settings.DATA_DIR) / KEY_FILE_NAME


def signing_key() -> ECKey:
    """The private key, created (mode 0600) the first time; cached per data folder.

    Two processes starting at once end with one key: the new key is written to a
    private temporary file and linked into place, which fails for the loser, who then
    reads the winner's file.
    """
    path = _key_path()
    cached = _cache.get(str(path))
    if cached is not None:
        return cached
    with _lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = ECKey.generate_key("P-256", private=True)
            tmp = path.parent / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                with os.fdopen(fd, "w") as handle:
                    json.dump(key.as_dict(private=True), handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            os.chmod(path, 0o600)  # a copied data folder can lose its modes
        try:
            key = ECKey.import_key(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, JoseError) as exc:
            raise ImproperlyConfigured(
                f"The consent receipt key {path} is not a valid EC key; restore it from a "
                "backup (receipts signed with it cannot be verified otherwise)."
            ) from exc
        _cache[str(path)] = key
        return key


def key_id() -> str:
    """The RFC 7638 thumbprint of the signing key: the ``kid`` of receipts and JWKS."""
    return signing_key().thumbprint()


def public_jwk() -> dict[str, Any]:
    return {
        **signing_key().as_dict(private=False),
        "kid": key_id(),
        "use": "sig",
        "alg": ALGORITHM,
    }


def jwks() -> dict[str, Any]:
    """The published key set (``/.well-known/jwks.json``)."""
    return {"keys": [public_jwk()]}


def sign(receipt: dict[str, Any]) -> str:
    """The compact JWS of ``receipt`` (canonical JSON: sorted keys, no spaces)."""
    payload = json.dumps(receipt, sort_keys=True, separators=(",", ":")).encode()
    header = {"alg": ALGORITHM, "kid": key_id(), "typ": "JWT"}
    return jws.serialize_compact(header, payload, signing_key(), algorithms=[ALGORITHM])


def verify(token: str, key_set: dict[str, Any] | None = None) -> dict[str, Any]:
    """The receipt inside ``token`` if its signature verifies against ``key_set`` (the
    published JWKS by default); ``ValidationFailed`` otherwise."""
    keys = KeySet.import_key_set(key_set or jwks())
    try:
        obj = jws.deserialize_compact(token.strip(), keys, algorithms=[ALGORITHM])
        return json.loads(obj.payload)
    except (JoseError, ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed.single("receipt", "The signature does not verify.") from exc


def build(
    *,
    receipt_id: str,
    timestamp: int,
    source: str,
    person_public_id: str,
    purpose: Any,
    text_shown: str,
    channel: str,
    granted: bool,
    language: str = "en",
) -> dict[str, Any]:
    """The Kantara Consent Receipt v1.1 structure for one consent change.

    ``piiPrincipalId`` is the person's opaque public id, so a receipt carries no name
    or address. Kith's own fields (state, channel, key) sit under ``x-kith``.
    """
    company = getattr(settings, "KITH_COMPANY_NAME", "Kith")
    base = getattr(settings, "KITH_BASE_URL", "")
    return {
        "version": VERSION,
        "jurisdiction": getattr(settings, "KITH_CMR_JURISDICTION", "EU"),
        "consentTimestamp": timestamp,
        "collectionMethod": source,
        "consentReceiptID": receipt_id,
        "publicKey": json.dumps(public_jwk(), sort_keys=True),
        "language": language,
        "piiPrincipalId": person_public_id,
        "piiControllers": [
            {
                "piiController": company,
                "contact": getattr(settings, "KITH_CMR_CONTROLLER_CONTACT", "") or company,
                "address": getattr(settings, "KITH_CMR_CONTROLLER_ADDRESS", ""),
                "email": getattr(settings, "KITH_CMR_CONTROLLER_EMAIL", "")
                or getattr(settings, "DEFAULT_FROM_EMAIL", ""),
                "phone": getattr(settings, "KITH_CMR_CONTROLLER_PHONE", ""),
                "piiControllerUrl": base,
            }
        ],
        "policyUrl": getattr(settings, "KITH_CMR_POLICY_URL", "") or f"{base}/privacy",
        "services": [
            {
                "service": company,
                "purposes": [
                    {
                        "purpose": text_shown,
                        "purposeCategory": [purpose.category],
                        "consentType": purpose.consent_type,
                        "piiCategory": list(purpose.pii_categories or []),
                        "primaryPurpose": purpose.primary_purpose,
                        "termination": purpose.termination,
                        "thirdPartyDisclosure": purpose.third_party_disclosure,
                        **(
                            {"thirdPartyName": purpose.third_party_name}
                            if purpose.third_party_disclosure
                            else {}
                        ),
                    }
                ],
            }
        ],
        "sensitive": purpose.sensitive,
        "spiCat": [],
        "x-kith": {
            "purposeKey": purpose.key,
            "channel": channel,
            "state": "granted" if granted else "withdrawn",
            "kid": key_id(),
        },
    }
