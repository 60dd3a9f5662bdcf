"""Mentions pushed to Kith: the inbound webhook's JSON, bulk upload's JSON Lines and CSV.

Each item (a JSON object, a JSON Lines line, a CSV row) has these fields; only ``id``
and ``text`` are required::

    id                unique within the source (the idempotency key)
    text              plain text or HTML (HTML is stripped)
    channel           "twitter", "mastodon", "email", … (default: the source's kind)
    url               link to the post (http/https)
    published_at      ISO 8601; without an offset it is taken as UTC
    author_handle     "@ana", "ana@example.com", a profile URL
    author_name, author_url, author_followers (a whole number ≥ 0)
    in_reply_to       id of the parent post
    language          a language the sender declared ("en")

Parsing names the place of every problem (``items[3].published_at``, ``line 7: text``,
``row 12: author_followers``) so a sender can fix the whole batch in one go.

The webhook is signed: ``X-Kith-Timestamp`` (Unix seconds) and ``X-Kith-Signature``
(``sha256=`` + hex HMAC-SHA256 over ``timestamp + "." + raw body`` with the source's
secret). Requests more than five minutes away from Kith's clock are refused as replays.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kith.core.errors import FieldError, KithError
from kith.listening.incoming import IncomingMention

TIMESTAMP_HEADER = "X-Kith-Timestamp"
SIGNATURE_HEADER = "X-Kith-Signature"
MAX_SKEW_SECONDS = 300
MAX_WEBHOOK_BYTES = 1_000_000
MAX_WEBHOOK_ITEMS = 500
MAX_UPLOAD_BYTES = 20_000_000
MAX_UPLOAD_ROWS = 50_000

FIELDS = (
    "id",
    "text",
    "channel",
    "url",
    "published_at",
    "author_handle",
    "author_name",
    "author_url",
    "author_followers",
    "in_reply_to",
    "language",
)


class SignatureRejected(KithError):
    """A webhook request that is not provably from the source's sender (401)."""

    code = "bad_signature"
    status = 401
    default_message = "The signature does not match."


class StaleRequest(SignatureRejected):
    code = "stale_timestamp"
    default_message = "The timestamp is more than five minutes away from now (a replay?)."


class BadPayload(KithError):
    code = "bad_payload"
    status = 400
    default_message = "The request body is not valid."


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float | None = None,
) -> None:
    """Raise SignatureRejected / StaleRequest unless the request is signed and fresh."""
    if not secret:
        raise SignatureRejected("This source has no signing secret.")
    if not timestamp or not signature:
        raise SignatureRejected(f"Both {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required.")
    try:
        sent = int(timestamp.strip())
    except ValueError:
        raise SignatureRejected(f"{TIMESTAMP_HEADER} must be Unix seconds.") from None
    # The signature is checked first: an unsigned stale request learns nothing about
    # the clock window.
    expected = sign(secret, timestamp.strip(), body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureRejected()
    now = time.time() if now is None else now
    if abs(now - sent) > MAX_SKEW_SECONDS:
        raise StaleRequest()


# ---------------------------------------------------------------- items


@dataclass
class Parsed:
    items: list[IncomingMention]
    errors: list[FieldError]


def _text(value: Any, where: str, name: str, errors: list[FieldError], *, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors.append(FieldError(f"{where}{name}", "Must be a string."))
        return ""
    value = str(value)
    if len(value) > limit:
        errors.append(FieldError(f"{where}{name}", f"At most {limit} characters."))
        return ""
    return value


def parse_datetime(value: str) -> dt.datetime:
    value = value.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def item_from(
    data: Any, *, where: str, default_channel: str
) -> tuple[IncomingMention | None, list[FieldError]]:
    """One item from a mapping; errors are named ``<where><field>``."""
    errors: list[FieldError] = []
    if not isinstance(data, dict):
        return None, [FieldError(where.rstrip(".: ") or "item", "Must be an object.")]
    ext = _text(data.get("id", data.get("external_id")), where, "id", errors, limit=255).strip()
    if not ext and not any(e.field == f"{where}id" for e in errors):
        errors.append(FieldError(f"{where}id", "This field is required."))
    text = _text(data.get("text"), where, "text", errors, limit=100_000)
    if not text.strip() and not any(e.field == f"{where}text" for e in errors):
        errors.append(FieldError(f"{where}text", "This field is required."))
    published = None
    raw_date = data.get("published_at")
    if raw_date not in (None, ""):
        if not isinstance(raw_date, str):
            errors.append(FieldError(f"{where}published_at", "Must be an ISO 8601 date-time."))
        else:
            try:
                published = parse_datetime(raw_date)
            except ValueError:
                errors.append(FieldError(f"{where}published_at", "Must be an ISO 8601 date-time."))
    followers = data.get("author_followers")
    if followers in ("", None):
        followers = None
    else:
        try:
            if isinstance(followers, bool) or float(followers) != int(float(followers)):
                raise ValueError
            followers = int(float(followers))
            if followers < 0:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            errors.append(FieldError(f"{where}author_followers", "Must be a whole number ≥ 0."))
            followers = None
    fields = {
        name: _text(data.get(name), where, name, errors, limit=limit)
        for name, limit in (
            ("channel", 20),
            ("url", 1000),
            ("author_handle", 255),
            ("author_name", 200),
            ("author_url", 1000),
            ("in_reply_to", 255),
            ("language", 8),
        )
    }
    if errors:
        return None, errors
    return (
        IncomingMention(
            external_id=ext,
            text=text,
            channel=(fields["channel"] or default_channel).strip().lower(),
            url=fields["url"],
            published_at=published,
            author_handle=fields["author_handle"],
            author_name=fields["author_name"],
            author_url=fields["author_url"],
            author_followers=followers,
            in_reply_to=fields["in_reply_to"],
            language_hint=fields["language"],
        ),
        [],
    )


def parse_webhook(body: bytes, *, default_channel: str) -> list[IncomingMention]:
    """The webhook body: one item, a list of items, or ``{"items": [...]}``; BadPayload
    names every problem and nothing is taken when there is one."""
    if len(body) > MAX_WEBHOOK_BYTES:
        raise BadPayload(
            "The body is too large.",
            errors=[FieldError("body", f"At most {MAX_WEBHOOK_BYTES} bytes.")],
        )
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadPayload(
            "The body is not JSON.", errors=[FieldError("body", f"Not valid JSON: {exc}")]
        ) from None
    if isinstance(data, dict) and "items" in data:
        raw_items, prefix = data["items"], "items"
        if not isinstance(raw_items, list):
            raise BadPayload(errors=[FieldError("items", "Must be a list.")])
    elif isinstance(data, list):
        raw_items, prefix = data, "items"
    else:
        raw_items, prefix = [data], ""
    if not raw_items:
        raise BadPayload(errors=[FieldError("items", "At least one item.")])
    if len(raw_items) > MAX_WEBHOOK_ITEMS:
        raise BadPayload(errors=[FieldError("items", f"At most {MAX_WEBHOOK_ITEMS} items.")])
    items: list[IncomingMention] = []
    errors: list[FieldError] = []
    for pos, raw in enumerate(raw_items):
        where = f"{prefix}[{pos}]." if prefix else ""
        item, item_errors = item_from(raw, where=where, default_channel=default_channel)
        errors += item_errors
        if item is not None:
            items.append(item)
    if errors:
        raise BadPayload("; ".join(f"{e.field}: {e.message}" for e in errors[:5]), errors=errors)
    return items


def _rows_jsonl(text: str) -> Iterable[tuple[str, Any, list[FieldError]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}: "
        try:
            yield where, json.loads(line), []
        except json.JSONDecodeError as exc:
            yield where, None, [FieldError(f"line {number}", f"Not valid JSON: {exc.msg}.")]


def _rows_csv(text: str) -> Iterable[tuple[str, Any, list[FieldError]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [f for f in ("id", "text") if f not in header]
    if missing:
        yield "", None, [FieldError("header", f"Missing column(s): {', '.join(missing)}.")]
        return
    reader.fieldnames = header
    for number, row in enumerate(reader, start=2):
        if None in row:
            yield f"row {number}: ", None, [FieldError(f"row {number}", "More cells than columns.")]
            continue
        yield f"row {number}: ", {k: (v if v != "" else None) for k, v in row.items()}, []


def parse_upload(
    data: bytes, *, filename: str, default_channel: str
) -> tuple[list[IncomingMention], list[FieldError], list[str]]:
    """Items from a JSON Lines (``.jsonl``/``.ndjson``) or CSV file.

    Returns (items, errors, where): ``where[i]`` names the line or row of ``items[i]`` so
    later rejections (the pipeline's) can be reported against it too.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        return [], [FieldError("file", f"At most {MAX_UPLOAD_BYTES} bytes.")], []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [FieldError("file", "Must be UTF-8 text.")], []
    name = (filename or "").lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        rows = _rows_jsonl(text)
    elif name.endswith(".csv"):
        rows = _rows_csv(text)
    else:
        return [], [FieldError("file", "Upload a .jsonl (JSON Lines) or .csv file.")], []
    items: list[IncomingMention] = []
    where: list[str] = []
    errors: list[FieldError] = []
    count = 0
    for place, raw, row_errors in rows:
        count += 1
        if count > MAX_UPLOAD_ROWS:
            errors.append(FieldError("file", f"At most {MAX_UPLOAD_ROWS} rows."))
            break
        if row_errors:
            errors += row_errors
            continue
        item, item_errors = item_from(raw, where=place, default_channel=default_channel)
        errors += item_errors
        if item is not None:
            items.append(item)
            where.append(place.rstrip(": "))
    if not items and not errors:
        errors.append(FieldError("file", "The file holds no rows."))
    return items, errors, where
