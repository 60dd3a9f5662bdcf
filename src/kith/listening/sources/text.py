"""Turning what a source fetched into the plain text and ids the pipeline expects."""

from __future__ import annotations

import hashlib
import html
import re

import nh3
from django.conf import settings

# Tags after which a reader sees a line break; nh3 drops the tags themselves.
_BREAKS = re.compile(r"(?i)<(?:br|/p|/div|/li|/h[1-6]|/blockquote|/tr|/pre|/ul|/ol|/table)\b[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*(?:\n\s*)+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# External ids longer than the column (255) are replaced by a hash of themselves.
MAX_EXTERNAL_ID = 255


def max_item_chars() -> int:
    return int(getattr(settings, "KITH_LISTENING_MAX_ITEM_CHARS", 20_000))


def html_to_text(markup: str, *, limit: int | None = None) -> str:
    """Plain text of an HTML fragment: tags dropped (scripts and styles with their
    content), entities decoded, whitespace collapsed, line breaks kept where blocks end.

    ``limit`` bounds the work on a huge fragment: the markup is cut at ten times the
    limit before parsing (the text is shorter than its markup), the caller truncates the
    text itself.
    """
    if not markup:
        return ""
    if limit is not None and len(markup) > limit * 10:
        markup = markup[: limit * 10]
    if "<" in markup or "&" in markup:
        markup = _BREAKS.sub(lambda m: m.group(0) + "\n", markup)
        markup = html.unescape(nh3.clean(markup, tags=set(), attributes={}))
    return tidy(markup)


def tidy(text: str) -> str:
    """Collapse runs of spaces, drop control characters, keep at most one blank line."""
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to at most ``limit`` characters (on a word boundary when one is near)."""
    if len(text) <= limit:
        return text, False
    cut = text[: limit - 1]
    space = cut.rfind(" ", max(0, limit - 200))
    if space > 0:
        cut = cut[:space]
    return cut.rstrip() + "…", True


def stable_id(*parts: str) -> str:
    """A deterministic id from the given parts, for items the source gave no id."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest[:40]}"


def fit_external_id(value: str) -> str:
    """``value`` as it is when it fits the column, else a stable hash of it."""
    value = value.strip()
    if len(value) <= MAX_EXTERNAL_ID:
        return value
    return stable_id(value)
