"""Helpers for validating a source kind's configuration into field errors.

Each kind's ``validate`` builds a ``ConfigChecker``, reads each field through it and calls
``done()``: every problem is collected (so a form shows them all at once) and raised as
one ``ValidationFailed`` naming the fields, as the API and the web UI expect.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kith.core.errors import FieldError, ValidationFailed
from kith.listening.sources.http import literal_is_private, private_allowed

MAX_URL = 2000


class ConfigChecker:
    def __init__(self, config: Any, *, prefix: str = "config.") -> None:
        self.prefix = prefix
        self.errors: list[FieldError] = []
        self.not_an_object = not isinstance(config, dict)
        if self.not_an_object:
            self.errors.append(FieldError(prefix.rstrip(".") or "config", "Must be an object."))
            config = {}
        self.config: dict[str, Any] = config
        self.seen: set[str] = set()

    def error(self, field: str, message: str) -> None:
        if self.not_an_object:
            return  # one error says it all
        self.errors.append(FieldError(self.prefix + field, message))

    def raw(self, field: str) -> Any:
        self.seen.add(field)
        return self.config.get(field)

    def string(self, field: str, *, required: bool = False, max_length: int = 200) -> str:
        value = self.raw(field)
        if value is None or value == "":
            if required:
                self.error(field, "This field is required.")
            return ""
        if not isinstance(value, str):
            self.error(field, "Must be a string.")
            return ""
        value = value.strip()
        if len(value) > max_length:
            self.error(field, f"At most {max_length} characters.")
            return ""
        if required and not value:
            self.error(field, "This field is required.")
        return value

    def boolean(self, field: str, *, default: bool) -> bool:
        value = self.raw(field)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(field, "Must be true or false.")
            return default
        return value

    def choice(self, field: str, choices: tuple[str, ...], *, default: str | None = None) -> str:
        value = self.raw(field)
        if value is None or value == "":
            if default is None:
                self.error(field, "This field is required.")
                return ""
            return default
        if value not in choices:
            self.error(field, f"Must be one of: {', '.join(choices)}.")
            return default or ""
        return value

    def string_list(
        self, field: str, *, choices: tuple[str, ...] | None = None, max_items: int = 50
    ) -> list[str]:
        value = self.raw(field)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(field, "Must be a list of strings.")
            return []
        if len(value) > max_items:
            self.error(field, f"At most {max_items} items.")
            return []
        items = list(dict.fromkeys(v.strip() for v in value if v.strip()))
        if choices is not None:
            wrong = [v for v in items if v not in choices]
            if wrong:
                self.error(field, f"Unknown: {', '.join(wrong)}; choose from {', '.join(choices)}.")
                return []
        return items

    def url(self, field: str, *, required: bool = True, base_only: bool = False) -> str:
        """An http(s) URL to fetch: no credentials in it, no private host (unless allowed).

        The host is checked here only when it is a literal address or ``localhost`` (a
        request handler does no DNS); the fetch checks the resolved addresses again.
        """
        value = self.string(field, required=required, max_length=MAX_URL)
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https"):
            self.error(field, "Must be an http:// or https:// URL.")
            return ""
        try:
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            self.error(field, "The URL's host or port is not valid.")
            return ""
        if not host:
            self.error(field, "The URL has no host.")
            return ""
        if parts.username or parts.password:
            self.error(field, "Put no user name or password in the URL.")
            return ""
        if any(ch.isspace() for ch in value):
            self.error(field, "The URL contains spaces.")
            return ""
        if not private_allowed() and literal_is_private(host):
            self.error(field, "Private, loopback and local addresses are not allowed.")
            return ""
        if base_only:
            if parts.path not in ("", "/") or parts.query or parts.fragment:
                self.error(field, "Give the server's address only, e.g. https://mastodon.social.")
                return ""
            return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "", "", ""))
        return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path, parts.query, ""))

    def done(self) -> None:
        unknown = sorted(set(self.config) - self.seen)
        for field in unknown:
            self.error(field, "Unknown field.")
        if self.errors:
            names = ", ".join(e.field for e in self.errors)
            raise ValidationFailed(
                f"The source's settings are not valid ({names}).", errors=self.errors
            )
