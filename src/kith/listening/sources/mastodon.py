"""Mastodon (kind ``mastodon``) through Mastodon.py, over our guarded HTTP session.

One source follows one timeline on one instance:

* ``hashtag``: the public timeline of a hashtag (``GET /api/v1/timelines/tag/:tag``);
* ``account``: an account's own statuses, reblogs left out (the account's id is looked
  up once and kept in the state);
* ``mentions``: mentions of the company's account (its notifications of type
  ``mention``), which needs the account's access token in the config. The token is a
  secret field of the kind: masked wherever a config is shown, never logged, and
  Mastodon.py's request debugging stays off.

Paging: the newest status id seen is kept as ``state["since_id"]``; the next poll asks for
what came after it with ``min_id`` (the page directly after the cursor, so nothing is
skipped when more than a page arrived) and walks forward up to ``MAX_PAGES`` pages; what
is left waits for the next poll. The first poll takes the newest page only: a source
starts listening from now, not from the timeline's beginning.

Errors: 429 is ``rate_limited`` with the wait the server asked for (``Retry-After``, else
its ``X-RateLimit-Reset``); 5xx is ``server_error``; 401/403 ``forbidden``. The poller
turns them into the source's error state and its back-off. Mastodon.py is told to
``throw`` on rate limits: it must never sleep inside the worker.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from kith.listening.incoming import FetchResult, IncomingMention, SourceError
from kith.listening.sources import SourceKind
from kith.listening.sources.config import ConfigChecker
from kith.listening.sources.http import USER_AGENT, network_error, parse_retry_after
from kith.listening.sources.text import (
    fit_external_id,
    html_to_text,
    max_item_chars,
    tidy,
    truncate,
)

CHANNEL = "mastodon"
TIMELINES = ("hashtag", "account", "mentions")
PAGE_SIZE = 40  # Mastodon's maximum for these endpoints
MAX_PAGES = 5
# Mastodon hashtags: Unicode letters, digits and underscores (a middle dot inside), not all digits.
_HASHTAG = re.compile(r"^\w(?:[\w·]*\w)?$")
_ALL_DIGITS = re.compile(r"[0-9]+")
_USERNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def validate(config: Any, *, prefix: str = "config.") -> dict[str, Any]:
    check = ConfigChecker(config, prefix=prefix)
    instance = check.url("instance", base_only=True)
    timeline = check.choice("timeline", TIMELINES)
    hashtag = check.string("hashtag", max_length=101, required=timeline == "hashtag")
    account = check.string("account", max_length=300, required=timeline == "account")
    token = check.string("access_token", max_length=500, required=timeline == "mentions")
    local_only = check.boolean("local_only", default=False)
    cleaned: dict[str, Any] = {"instance": instance, "timeline": timeline}
    if timeline == "hashtag" and hashtag:
        tag = hashtag.removeprefix("#")
        if not tag or len(tag) > 100 or not _HASHTAG.match(tag) or _ALL_DIGITS.fullmatch(tag):
            check.error("hashtag", "A hashtag is letters, digits and underscores, e.g. #kith.")
        cleaned["hashtag"] = tag
        cleaned["local_only"] = local_only
    if timeline == "account" and account:
        acct = _clean_account(account)
        if acct is None:
            check.error("account", "An account is @user or @user@instance.example.")
        else:
            cleaned["account"] = acct
    if token:
        if any(ch.isspace() for ch in token):
            check.error("access_token", "An access token has no spaces.")
        cleaned["access_token"] = token
    check.done()
    return cleaned


def _clean_account(value: str) -> str | None:
    """``@user``, ``user``, ``@user@host`` → ``user`` or ``user@host``; None if not one."""
    if value.startswith("https://") or value.startswith("http://"):
        # A profile URL (https://host/@user): the form people copy from a browser.
        parts = urlsplit(value)
        path = parts.path.strip("/")
        if not path.startswith("@") or "/" in path or not parts.hostname:
            return None
        value = f"{path}@{parts.hostname}"
    user, _, domain = value.removeprefix("@").partition("@")
    if not _USERNAME.match(user) or len(user) > 30:
        return None
    if domain and not _DOMAIN.match(domain):
        return None
    return f"{user}@{domain.lower()}" if domain else user


def fetch(config: dict[str, Any], state: dict[str, Any], *, http: requests.Session) -> FetchResult:
    from mastodon import Mastodon  # imported on use: only the worker polls

    instance = config["instance"]
    api = Mastodon(
        api_base_url=instance,
        access_token=config.get("access_token") or None,
        session=http,
        request_timeout=getattr(http, "timeout", 15),
        ratelimit_method="throw",
        version_check_mode="none",
        user_agent=USER_AGENT,
    )
    host = urlsplit(instance).hostname or ""
    timeline = config["timeline"]
    new_state = dict(state)
    new_state.pop("warnings", None)
    try:
        if timeline == "account":
            acct = config["account"]
            if new_state.get("account") != acct or not new_state.get("account_id"):
                account = api.account_lookup(acct)
                new_state.update(account=acct, account_id=str(account["id"]))
                new_state.pop("since_id", None)
            account_id = new_state["account_id"]

            def page(**kw: Any) -> list[Any]:
                return api.account_statuses(account_id, exclude_reblogs=True, **kw)

        elif timeline == "hashtag":
            tag = config["hashtag"]
            if new_state.get("hashtag") != tag:
                new_state.update(hashtag=tag)
                new_state.pop("since_id", None)

            def page(**kw: Any) -> list[Any]:
                return api.timeline_hashtag(tag, local=bool(config.get("local_only")), **kw)

        else:

            def page(**kw: Any) -> list[Any]:
                return api.notifications(types=["mention"], **kw)

        rows, since_id, more = _walk(page, new_state.get("since_id"))
    except Exception as exc:
        raise _error(exc, api, http) from exc

    limit = max_item_chars()
    items: list[IncomingMention] = []
    truncated = 0
    for row in rows:
        status = row.get("status") if timeline == "mentions" else row
        if not status:
            continue  # a notification whose status was deleted
        mention, was_truncated = _mention(status, host=host, limit=limit)
        if timeline == "mentions":
            mention.raw["notification_id"] = str(row["id"])
        truncated += was_truncated
        items.append(mention)
    if since_id:
        new_state["since_id"] = since_id
    new_state["more"] = more  # the poller comes back at once for the rest
    if truncated:
        new_state["warnings"] = [
            f"truncated: {truncated} status(es) were cut to {limit:,} characters"
        ]
    # Oldest first (ids break ties: several statuses can share a second).
    earliest = dt.datetime.min.replace(tzinfo=dt.UTC)
    items.sort(key=lambda m: (m.published_at or earliest, _id_key(m.external_id)))
    return FetchResult(items=items, state=new_state)


def _walk(page: Any, since_id: str | None) -> tuple[list[Any], str | None, bool]:
    """Rows after ``since_id`` (up to ``MAX_PAGES`` pages), the new cursor, and whether
    the server probably has more (the last page read was full)."""
    if not since_id:
        rows = list(page(limit=PAGE_SIZE))
        return rows, _newest(rows, None), False
    rows: list[Any] = []
    cursor = since_id
    more = False
    for _ in range(MAX_PAGES):
        batch = list(page(min_id=cursor, limit=PAGE_SIZE))
        if not batch:
            more = False
            break
        rows.extend(batch)
        newest = _newest(batch, cursor)
        if newest == cursor:
            more = False
            break  # a server that ignores min_id: stop rather than loop
        cursor = newest
        more = len(batch) >= PAGE_SIZE
        if not more:
            break
    return rows, cursor, more


def _id_key(value: str) -> tuple[int, str]:
    # Mastodon ids are numeric strings (compare by length, then digits); other servers
    # (Pleroma, Akkoma) use sortable flake ids, compared as strings.
    return (len(value), value) if _ALL_DIGITS.fullmatch(value) else (0, value)


def _newest(rows: list[Any], cursor: str | None) -> str | None:
    ids = [str(r["id"]) for r in rows]
    if cursor:
        ids.append(cursor)
    return max(ids, key=_id_key) if ids else None


def _mention(status: Any, *, host: str, limit: int) -> tuple[IncomingMention, bool]:
    account = status.get("account") or {}
    acct = str(account.get("acct") or account.get("username") or "")
    handle = f"@{acct}" if "@" in acct else (f"@{acct}@{host}" if acct else "")
    body = html_to_text(status.get("content") or "", limit=limit)
    warning = tidy(status.get("spoiler_text") or "")
    text = f"{warning}\n\n{body}" if warning and body else (warning or body)
    original = len(text)
    text, was_truncated = truncate(text, limit)
    raw: dict[str, Any] = {
        "uri": str(status.get("uri") or ""),
        "visibility": str(status.get("visibility") or ""),
        "replies": int(status.get("replies_count") or 0),
        "reblogs": int(status.get("reblogs_count") or 0),
        "favourites": int(status.get("favourites_count") or 0),
        "account_id": str(account.get("id") or ""),
    }
    tags = [str(t.get("name")) for t in status.get("tags") or [] if t.get("name")]
    if tags:
        raw["tags"] = tags[:20]
    if account.get("bot"):
        raw["bot"] = True
    if was_truncated:
        raw.update(truncated=True, original_chars=original)
    created = status.get("created_at")
    if isinstance(created, str):
        created = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    if isinstance(created, dt.datetime) and created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    followers = account.get("followers_count")
    reply_to = status.get("in_reply_to_id")
    return (
        IncomingMention(
            external_id=fit_external_id(str(status["id"])),
            text=text,
            channel=CHANNEL,
            url=str(status.get("url") or status.get("uri") or "")[:1000],
            published_at=created if isinstance(created, dt.datetime) else None,
            author_handle=handle[:255],
            author_name=tidy(str(account.get("display_name") or account.get("username") or ""))[
                :200
            ],
            author_url=str(account.get("url") or "")[:1000],
            author_followers=int(followers)
            if isinstance(followers, int) and followers >= 0
            else None,
            in_reply_to=str(reply_to) if reply_to else "",
            language_hint=str(status.get("language") or "")[:8],
            raw=raw,
        ),
        was_truncated,
    )


def _error(exc: Exception, api: Any, http: requests.Session) -> SourceError:
    """A Mastodon.py (or transport) failure as the source error the poller shows."""
    from mastodon.errors import (
        MastodonAPIError,
        MastodonNetworkError,
        MastodonNotFoundError,
        MastodonRatelimitError,
        MastodonServerError,
        MastodonUnauthorizedError,
    )

    if isinstance(exc, SourceError):
        return exc
    headers = getattr(http, "last_headers", {}) or {}
    if isinstance(exc, MastodonRatelimitError):
        wait = parse_retry_after(headers.get("Retry-After"))
        if wait is None and getattr(api, "ratelimit_reset", None):
            wait = max(0.0, float(api.ratelimit_reset) - time.time())
        return SourceError(
            "rate_limited", "The Mastodon server asks to slow down (429).", retry_after=wait
        )
    if isinstance(exc, MastodonNetworkError):
        # Mastodon.py wraps whatever the session raised; our guard's own SourceError
        # (private address, too large) or requests' error is the real reason.
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, SourceError | requests.RequestException):
            return network_error(cause)
        return SourceError("unreachable", "The Mastodon server could not be reached.")
    status = exc.args[1] if isinstance(exc, MastodonAPIError) and len(exc.args) > 1 else None
    if isinstance(exc, MastodonServerError):
        return SourceError(
            "server_error",
            f"The Mastodon server failed ({status}).",
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )
    if isinstance(exc, MastodonUnauthorizedError) or status == 403:
        return SourceError("forbidden", f"The Mastodon server refused the access token ({status}).")
    if status == 422:
        # Servers that close their public timelines to visitors answer 422
        # ("This method requires an authenticated user").
        return SourceError(
            "forbidden",
            "The Mastodon server requires a logged-in account for this timeline (422); "
            "add an access token.",
        )
    if isinstance(exc, MastodonNotFoundError):
        return SourceError(
            "not_found", "The Mastodon server knows no such account or timeline (404)."
        )
    if isinstance(exc, MastodonAPIError):
        return SourceError(
            "bad_response", f"The Mastodon server gave an unexpected answer ({status})."
        )
    if isinstance(exc, requests.RequestException):
        return network_error(exc)
    if isinstance(exc, KeyError | TypeError | ValueError):
        return SourceError("bad_response", "The Mastodon server's answer could not be read.")
    raise exc


KIND = SourceKind(
    name="mastodon",
    label="Mastodon",
    validate=validate,
    fetch=fetch,
    secret_fields=frozenset({"access_token"}),
)
