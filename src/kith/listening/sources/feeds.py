"""RSS and Atom feeds (kind ``feed``), parsed by feedparser, fetched by our guarded client.

feedparser is never given the URL: it would fetch with urllib, bypassing the address
guard, the timeout and the size cap. We fetch the bytes ourselves and hand them over
with the response headers (feedparser reads the charset and base URL from them).

A poll:

* sends ``If-None-Match`` / ``If-Modified-Since`` from the stored state; a 304 is
  ``not_modified`` and costs nothing more;
* turns each entry into an ``IncomingMention``: external id = the entry's id (guid),
  else its link, else a hash of title + text + date; dates parsed, ``None`` when the
  entry has none; HTML to plain text; the author;
* hands over only entries not already handed over (``state["seen"]`` keeps the ids of
  the feed's current window, hashed), so a server that ignores conditional requests
  does not make every poll re-send the whole feed; the pipeline's unique
  (source, external id) is the final guard;
* degrades instead of failing where feedparser could still read entries: a document
  that is not well-formed XML, or whose declared encoding is wrong, is ingested with a
  warning in ``state["warnings"]``; an item longer than ``KITH_LISTENING_MAX_ITEM_CHARS``
  is truncated and counted. A page that is not a feed at all (an HTML page, an error
  page with status 200) is the ``not_a_feed`` error.
"""

from __future__ import annotations

import datetime as dt
import email.utils as email_utils
import hashlib
import time
from typing import Any

import feedparser
import requests

from kith.listening.incoming import FetchResult, IncomingMention, SourceError
from kith.listening.sources import SourceKind
from kith.listening.sources.config import ConfigChecker
from kith.listening.sources.http import network_error, status_error
from kith.listening.sources.text import (
    fit_external_id,
    html_to_text,
    max_item_chars,
    stable_id,
    tidy,
    truncate,
)

CHANNEL = "rss"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
# Ids remembered between polls: the feed's window, newest first, bounded.
MAX_SEEN = 2000
# A date this far ahead of now is a wrong time zone or a wrong clock: use now instead.
FUTURE_SLACK = dt.timedelta(days=1)


def validate(config: Any, *, prefix: str = "config.") -> dict[str, Any]:
    check = ConfigChecker(config, prefix=prefix)
    url = check.url("url")
    check.done()
    return {"url": url}


def fetch(config: dict[str, Any], state: dict[str, Any], *, http: requests.Session) -> FetchResult:
    url = config["url"]
    headers = {"Accept": ACCEPT}
    if state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    try:
        response = http.get(url, headers=headers, allow_redirects=True)
    except (requests.RequestException, SourceError) as exc:
        raise network_error(exc) from exc

    if response.status_code == 304:
        return FetchResult(items=[], state=_without_warnings(state), not_modified=True)
    if response.status_code >= 400:
        raise status_error(response.status_code, response.headers)
    if response.status_code != 200:
        raise SourceError("http_error", f"The server answered {response.status_code}.")

    parsed = feedparser.parse(
        response.content,
        response_headers={k.lower(): v for k, v in response.headers.items()},
        # We turn every entry into plain text ourselves (nh3); feedparser's own
        # sanitiser and URI rewriting are wasted work, slow on a huge item.
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    warnings: list[str] = []
    if not parsed.get("version") and not parsed.entries:
        if parsed.get("bozo"):
            raise SourceError(
                "not_a_feed",
                "The URL does not serve an RSS or Atom feed "
                f"({_describe(parsed.get('bozo_exception'))}; content type "
                f"{response.headers.get('Content-Type', 'unknown')}).",
            )
        raise SourceError("not_a_feed", "The URL does not serve an RSS or Atom feed.")
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        if isinstance(exc, feedparser.CharacterEncodingOverride):
            warnings.append(f"wrong_encoding: {exc}")
        elif not isinstance(exc, feedparser.NonXMLContentType):
            warnings.append(f"invalid_xml: {_describe(exc)}; read with the lenient parser")

    language = _primary_language(parsed.feed.get("language", ""))
    limit = max_item_chars()
    seen = set(state.get("seen") or [])
    window: list[str] = []
    in_window: set[str] = set()
    items: list[IncomingMention] = []
    truncated = 0
    for entry in parsed.entries:
        mention, was_truncated = _mention(entry, feed_language=language, limit=limit)
        key = _seen_key(mention.external_id)
        if key in in_window:
            continue  # the same id twice in one document: the first wins
        in_window.add(key)
        window.append(key)
        if key in seen:
            continue
        truncated += was_truncated
        items.append(mention)
    if truncated:
        warnings.append(f"truncated: {truncated} item(s) longer than {limit:,} characters were cut")

    new_state: dict[str, Any] = {
        "etag": response.headers.get("ETag", ""),
        "last_modified": response.headers.get("Last-Modified", ""),
        "seen": window[:MAX_SEEN],
    }
    if response.url and response.url != url:
        new_state["final_url"] = response.url  # shown, so staff can update a moved feed
    if warnings:
        new_state["warnings"] = warnings
    # Oldest first: the order they were published in, undated entries last.
    items.sort(key=lambda m: (m.published_at is None, m.published_at or dt.datetime.min))
    return FetchResult(items=items, state=new_state)


def _mention(entry: Any, *, feed_language: str, limit: int) -> tuple[IncomingMention, bool]:
    title = tidy(html_to_text(entry.get("title", ""), limit=limit))
    body_html, body_language = _body(entry)
    body = html_to_text(body_html, limit=limit)
    text = title if not body or body == title else (f"{title}\n\n{body}" if title else body)
    original = len(text)
    text, was_truncated = truncate(text, limit)
    published = _date(entry)
    link = entry.get("link", "") or ""
    external = entry.get("id") or link
    if not external:
        external = stable_id(title, body[:2000], published.isoformat() if published else "")
    author_name, author_email, author_href = _author(entry)
    raw: dict[str, Any] = {}
    if was_truncated:
        raw.update(truncated=True, original_chars=original)
    tags = [t.get("term", "") for t in entry.get("tags", []) if t.get("term")]
    if tags:
        raw["categories"] = tags[:20]
    return (
        IncomingMention(
            external_id=fit_external_id(external),
            text=text,
            channel=CHANNEL,
            url=link[:1000],
            published_at=published,
            author_handle=(author_email or author_href or author_name)[:255],
            author_name=author_name[:200],
            author_url=author_href[:1000],
            language_hint=_primary_language(body_language) or feed_language,
            raw=raw,
        ),
        was_truncated,
    )


def _author(entry: Any) -> tuple[str, str, str]:
    """The entry's author as (name, e-mail, URL).

    RSS writes an author as ``email (Name)``; feedparser's own split of it cuts long
    top-level domains (``news@gazette.exam``), so an author string with an ``@`` is
    parsed as the mail address it is.
    """
    detail = entry.get("author_detail") or {}
    text = entry.get("author", "") or ""
    name, email = detail.get("name", "") or "", detail.get("email", "") or ""
    if "@" in text:
        parsed_name, parsed_email = email_utils.parseaddr(text)
        if "@" in parsed_email:
            name, email = parsed_name, parsed_email
    return tidy(name or ("" if "@" in text else text)), email.lower(), detail.get("href", "") or ""


def _body(entry: Any) -> tuple[str, str]:
    """The entry's fullest text (content over summary) and the language it declares."""
    for content in entry.get("content") or []:
        if content.get("value"):
            return content["value"], content.get("language") or ""
    detail = entry.get("summary_detail") or {}
    return entry.get("summary", "") or "", detail.get("language") or ""


def _date(entry: Any) -> dt.datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value: time.struct_time | None = entry.get(key)
        if not value:
            continue
        try:
            when = dt.datetime(*value[:6], tzinfo=dt.UTC)
        except (TypeError, ValueError):
            continue
        now = dt.datetime.now(dt.UTC)
        return now if when > now + FUTURE_SLACK else when
    return None


def _primary_language(tag: str) -> str:
    """``en-US`` → ``en``; anything that is not a language tag → ``""``."""
    primary = (tag or "").strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else ""


def _seen_key(external_id: str) -> str:
    return hashlib.blake2b(external_id.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _describe(exc: object) -> str:
    if exc is None:
        return "unreadable"
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


def _without_warnings(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "warnings"}


KIND = SourceKind(name="feed", label="RSS / Atom feed", validate=validate, fetch=fetch)
