"""Listening source kinds: how each kind is configured, validated and fetched.

Every kind registers a ``SourceKind`` here: its ``validate(config) -> config`` (cleaned,
or ``ValidationFailed`` naming the fields) and, for the kinds the worker polls, its
``fetch(config, state, *, http) -> FetchResult`` (the contract in
``kith.listening.incoming``). The poller (``kith.listening.polling``), the API and the
web UI only go through this registry, so adding a kind is one module and one
``register`` call.

Kinds pushed to Kith (webhook, upload) register a ``SourceKind`` without ``fetch``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kith.core.errors import ValidationFailed
from kith.listening.incoming import FetchResult

SECRET_MASK = "********"

Validator = Callable[..., dict[str, Any]]
Fetcher = Callable[..., FetchResult]


@dataclass(frozen=True)
class SourceKind:
    name: str  # the value of Source.kind
    label: str
    validate: Validator  # validate(config, *, prefix="config.") -> cleaned config
    fetch: Fetcher | None = None  # None: the kind is pushed to Kith, not polled
    # Config keys that are secrets (an access token): never shown back, never logged.
    secret_fields: frozenset[str] = field(default_factory=frozenset)
    # Whether a fetch goes over the network (the internal kinds read the database).
    network: bool = True
    default_interval_seconds: int = 900

    @property
    def polled(self) -> bool:
        return self.fetch is not None


_kinds: dict[str, SourceKind] = {}


def register(kind: SourceKind) -> SourceKind:
    _kinds[kind.name] = kind
    return kind


def get_kind(name: str) -> SourceKind:
    """The registered kind ``name``; ``ValidationFailed`` on ``kind`` when there is none."""
    try:
        return _kinds[name]
    except KeyError:
        raise ValidationFailed.single(
            "kind", f"Unknown source kind; choose from {', '.join(sorted(_kinds))}."
        ) from None


def all_kinds() -> dict[str, SourceKind]:
    return dict(_kinds)


def validate_config(kind: str, config: Any, *, prefix: str = "config.") -> dict[str, Any]:
    """The cleaned configuration of a ``kind`` source, or ``ValidationFailed`` with one
    error per field (named ``config.<key>`` by default; ``prefix=""`` for a flat form)."""
    return get_kind(kind).validate(config, prefix=prefix)


def merge_secrets(kind: str, new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """``new`` with its masked or omitted secrets taken from ``old`` (an edit form that
    showed ``SECRET_MASK`` and was sent back unchanged keeps the stored token)."""
    merged = dict(new)
    for key in get_kind(kind).secret_fields:
        if merged.get(key) in (None, SECRET_MASK) and old.get(key):
            merged[key] = old[key]
    return merged


def secret_names() -> frozenset[str]:
    """Every config key any kind treats as a secret."""
    names: set[str] = set()
    for kind in _kinds.values():
        names |= kind.secret_fields
    return frozenset(names)


def redacted(kind: str, config: Any) -> dict[str, Any]:
    """``config`` as it may be shown or logged: secrets masked.

    The secret names of every kind are masked whatever ``kind`` is (a config that
    carries another kind's key, or one of an unknown kind, leaks nothing).
    """
    if not isinstance(config, dict):
        return {}
    secrets = secret_names() | (_kinds[kind].secret_fields if kind in _kinds else frozenset())
    return {k: (SECRET_MASK if k in secrets and v else v) for k, v in config.items()}


def _validate_pushed(config: Any, *, prefix: str = "config.") -> dict[str, Any]:
    """Webhook and upload sources take no settings: an empty object (unknown keys named)."""
    from kith.listening.sources.config import ConfigChecker

    check = ConfigChecker(config if config is not None else {}, prefix=prefix)
    check.done()
    return {}


def _register_builtin() -> None:
    from kith.listening.sources import feeds, internal, mastodon

    register(feeds.KIND)
    register(mastodon.KIND)
    for kind in internal.KINDS:
        register(kind)
    # Pushed to Kith: nothing to poll, nothing to configure (the webhook's signing
    # secret is derived, never stored in the config; see kith.listening.services).
    register(SourceKind(name="webhook", label="Inbound webhook", validate=_validate_pushed))
    register(SourceKind(name="upload", label="Bulk upload", validate=_validate_pushed))


_register_builtin()
