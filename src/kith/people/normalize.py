"""Validation and normalisation of contact points and custom attributes.

Normalised forms are what identity resolution compares: the same e-mail typed in
two cases, or the same phone number with and without spaces, must meet.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import phonenumbers
from babel import Locale, UnknownLocaleError
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from kith.core.errors import FieldError

# Networks whose handles are case-insensitive and allow letters, digits, '_' and '.'.
SOCIAL_CHANNELS = {
    "twitter": r"[a-z0-9_]{1,15}",
    "x": r"[a-z0-9_]{1,15}",
    "instagram": r"[a-z0-9_.]{1,30}",
    "github": r"[a-z0-9](?:[a-z0-9-]{0,38})",
    "tiktok": r"[a-z0-9_.]{2,24}",
    "facebook": r"[a-z0-9.]{5,50}",
    "linkedin": r"[a-z0-9-]{3,100}",
    "youtube": r"[a-z0-9_.-]{3,100}",
    "bluesky": r"[a-z0-9.-]{3,253}",
    "mastodon": r"[a-z0-9_]{1,30}@[a-z0-9.-]+\.[a-z]{2,}",
    "reddit": r"[a-z0-9_-]{3,20}",
    "telegram": r"[a-z0-9_]{5,32}",
    "whatsapp": r"\+?[0-9]{6,15}",
    "skype": r"[a-z0-9_.:,-]{6,32}",
}
STANDARD_CHANNELS = ("email", "phone", "postal", "website")
CHANNEL_RE = re.compile(r"^[a-z][a-z0-9_-]{1,29}$")
GENERIC_HANDLE_RE = re.compile(r"^[^\s]{1,200}$")
_url_validator = URLValidator(schemes=["http", "https"])


class InvalidContactPoint(ValueError):
    pass


def default_region() -> str | None:
    return getattr(settings, "KITH_PHONE_REGION", None) or None


# Plain ASCII addresses (dot-atom local part, letter-only top-level domain, no "--"
# in the domain, within the length limits) are what email_validator accepts and
# normalises to themselves with the domain lower-cased; for them its full parse (about
# a third of an import row's CPU) is skipped. Anything else goes through it.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63})"
)
_SPECIAL_USE_TLDS = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def _plain_email(value: str) -> bool:
    if len(value) > 254 or "--" in value.partition("@")[2]:
        return False
    match = _PLAIN_EMAIL.fullmatch(value)
    return (
        match is not None
        and len(value.partition("@")[0]) <= 64
        and match.group(1).lower() not in _SPECIAL_USE_TLDS
    )


def normalize_email(value: str) -> str:
    value = value.strip()
    if _plain_email(value):
        return value.casefold()
    try:
        info = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidContactPoint(str(exc)) from exc
    # Domains are case-insensitive; local parts almost always are in practice, and
    # matching "Ana@x" with "ana@x" is what users expect from duplicate detection.
    return info.normalized.casefold()


def region_of_locale(locale: str | None) -> str | None:
    """The country of a locale such as ``en-GB`` or ``pt_BR`` (``GB``, ``BR``), if it names one."""
    if not locale:
        return None
    try:
        territory = Locale.parse(locale.strip().replace("-", "_")).territory
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    return territory if territory in phonenumbers.SUPPORTED_REGIONS else None


def phone_region(*locales: str | None) -> str | None:
    """The region national phone numbers are read in: the first locale naming a
    country (the record's, then the user's), else ``KITH_PHONE_REGION``."""
    for locale in locales:
        if region := region_of_locale(locale):
            return region
    return default_region()


def _country_hint(value: str, region: str | None) -> str:
    if value.strip().startswith(("+", "00")):
        return ""
    where = f" as a number in {region}" if region else ""
    return f" It was read{where}; add the country code, e.g. +44 20 7946 0958."


@functools.lru_cache(maxsize=2048)
def _parse_phone(value: str, region: str | None) -> phonenumbers.PhoneNumber:
    # Cached: a number is parsed to be normalised and again to be displayed (an import
    # row, a create); callers only read the result.
    return phonenumbers.parse(value, region)


def normalize_phone(value: str, region: str | None = None) -> str:
    region = region or default_region()
    try:
        number = _parse_phone(value.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidContactPoint(
            "Not a phone number; use international format such as +44 20 7946 0958."
        ) from exc
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        # A national number under the wrong region is the usual cause: say how to fix it.
        raise InvalidContactPoint("Not a valid phone number." + _country_hint(value, region))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_website(value: str) -> str:
    url = value.strip()
    if "://" not in url:
        url = "https://" + url
    try:
        _url_validator(url)
    except DjangoValidationError as exc:
        raise InvalidContactPoint("Not a valid web address.") from exc
    parts = urlsplit(url)
    host = (parts.hostname or "").casefold().removeprefix("www.")
    path = parts.path.rstrip("/")
    return f"{host}{path}"


def normalize_postal(value: str) -> str:
    text = " ".join(value.split())
    if len(text) < 5:
        raise InvalidContactPoint("A postal address needs at least a street and a town.")
    return text.casefold()


def normalize_handle(channel: str, value: str) -> str:
    handle = value.strip()
    # People paste profile URLs; keep only the handle.
    if "://" in handle:
        path = urlsplit(handle).path.strip("/")
        handle = (
            path.split("/")[-1] if channel != "linkedin" else path.removeprefix("in/").split("/")[0]
        )
    handle = handle.lstrip("@").casefold()
    pattern = SOCIAL_CHANNELS.get(channel)
    if pattern is not None:
        if not re.fullmatch(pattern, handle):
            raise InvalidContactPoint(f"Not a valid {channel} handle.")
    elif not GENERIC_HANDLE_RE.match(handle):
        raise InvalidContactPoint("A handle cannot be empty or contain spaces.")
    return handle


def normalize_contact(channel: str, value: str, *, region: str | None = None) -> tuple[str, str]:
    """Return ``(channel, normalized)`` or raise ``InvalidContactPoint``.

    ``region`` reads national phone numbers (see :func:`phone_region`)."""
    channel = (channel or "").strip().casefold()
    if not CHANNEL_RE.match(channel):
        raise InvalidContactPoint(
            "Channel must be a short lower-case name such as email, phone or github."
        )
    if not value or not value.strip():
        raise InvalidContactPoint("This field is required.")
    if len(value) > 500:
        raise InvalidContactPoint("At most 500 characters.")
    if channel == "email":
        return channel, normalize_email(value)
    if channel == "phone":
        return channel, normalize_phone(value, region)
    if channel == "website":
        return channel, normalize_website(value)
    if channel == "postal":
        return channel, normalize_postal(value)
    return channel, normalize_handle(channel, value)


def display_value(channel: str, value: str) -> str:
    """The value as shown: phones formatted internationally, others as typed (trimmed)."""
    if channel == "phone":
        try:
            return phonenumbers.format_number(
                _parse_phone(value.strip(), default_region()),
                phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            )
        except phonenumbers.NumberParseException:
            return value.strip()
    return value.strip()


def validate_attribute(definition, raw) -> tuple[object, str | None]:
    """Coerce ``raw`` to the definition's type; return (value, error message or None)."""
    if raw is None or raw == "":
        return None, ("This field is required." if definition.required else None)
    kind = definition.type
    try:
        if kind == "text":
            value = str(raw)
            if len(value) > definition.max_length:
                return None, f"At most {definition.max_length} characters."
            return value, None
        if kind == "number":
            number = Decimal(str(raw))
            if not number.is_finite():
                return None, "Must be a finite number."
            return (int(number) if number == number.to_integral_value() else float(number)), None
        if kind == "date":
            return (
                raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
            ).isoformat(), None
        if kind == "boolean":
            if isinstance(raw, bool):
                return raw, None
            text = str(raw).strip().casefold()
            if text in {"true", "yes", "1", "y"}:
                return True, None
            if text in {"false", "no", "0", "n"}:
                return False, None
            return None, "Must be yes or no."
        if kind == "choice":
            if str(raw) not in definition.choices:
                return None, f"Must be one of: {', '.join(definition.choices)}."
            return str(raw), None
        if kind == "url":
            _url_validator(str(raw))
            return str(raw), None
        if kind == "email":
            return normalize_email(str(raw)), None
    except (InvalidOperation, ValueError, DjangoValidationError, InvalidContactPoint):
        return None, {
            "number": "Must be a number.",
            "date": "Must be a date as YYYY-MM-DD.",
            "url": "Must be a web address starting with http:// or https://.",
            "email": "Must be a valid e-mail address.",
        }.get(kind, "Not a valid value.")
    return None, "Unknown field type."


def clean_attributes(
    definitions: dict, attributes: dict, *, kind: str, partial: bool = False
) -> tuple[dict, list[FieldError]]:
    """Validate a dict of custom attributes against field definitions keyed by ``key``."""
    cleaned: dict = {}
    errors: list[FieldError] = []
    for key, raw in (attributes or {}).items():
        definition = definitions.get(key)
        if definition is None or definition.applies_to not in ("any", kind):
            errors.append(
                FieldError(f"attributes.{key}", "Unknown attribute; define the field first.")
            )
            continue
        value, error = validate_attribute(definition, raw)
        if error:
            errors.append(FieldError(f"attributes.{key}", error))
        elif value is not None:
            cleaned[key] = value
    if not partial:
        for key, definition in definitions.items():
            if (
                definition.required
                and getattr(definition, "active", True)  # a retired field asks nothing
                and definition.applies_to in ("any", kind)
                and key not in cleaned
                and not any(e.field == f"attributes.{key}" for e in errors)
            ):
                errors.append(FieldError(f"attributes.{key}", "This field is required."))
    return cleaned, errors
