"""The contract between listening sources and the ingest pipeline.

Every source kind (feeds, Mastodon, webhook, bulk upload, Kith's own community and case
mail) turns what it fetched into ``IncomingMention`` values and nothing else; the pipeline
(normalise, de-duplicate, language, sentiment, topics, author matching, storage) takes
them from there. Keeping this boundary a plain dataclass lets each side be tested alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IncomingMention:
    """One post, reply or message as a source saw it, before any enrichment."""

    external_id: str  # unique within its source; (source, external_id) is the idempotency key
    text: str  # plain text (sources strip HTML before handing it over)
    channel: str  # "rss", "mastodon", "webhook", "upload", "community", "email", …
    url: str = ""
    published_at: dt.datetime | None = None  # aware; None when the source gave no date
    author_handle: str = ""  # e.g. "@ana@mastodon.social", an e-mail address, a feed author
    author_name: str = ""
    author_url: str = ""
    author_followers: int | None = None
    in_reply_to: str = ""  # external id of the parent, when known
    language_hint: str = ""  # a language the source declared, if any
    raw: dict[str, Any] = field(default_factory=dict)  # small, JSON-safe extras worth keeping


@dataclass
class FetchResult:
    """What one poll of a source produced, and the state to keep for the next poll."""

    items: list[IncomingMention]
    # Cursor and conditional-request state (etag, last_modified, since_id, …), stored on the
    # source and handed back to the next fetch unchanged.
    state: dict[str, Any] = field(default_factory=dict)
    not_modified: bool = False


class SourceError(Exception):
    """A source could not be read; shown on the source as its error state, never a crash.

    ``retry_after`` (seconds) is honoured by the poller's back-off when the remote gave one.
    """

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
