"""The worker's poll loop for listening sources (feeds, Mastodon, the internal kinds).

``poll_due_sources`` runs as the periodic job ``listening.poll_sources`` (registered in
``ListeningConfig.ready``). Each pass:

1. picks enabled sources of a polled kind whose ``next_poll_at`` has come (or was never
   set), oldest first;
2. **claims** each with a conditional update of ``next_poll_at`` (to now + a lease), so
   several workers never poll one source at once, and a worker that dies mid-poll only
   delays that source by the lease;
3. fetches through the kind's ``fetch`` with the source's state (ETag, Last-Modified,
   since_id, cursors), hands the items to ``services.submit`` (the pipeline, here or on
   the Redis Stream), and only then stores the new state: a crash in between re-fetches
   the same items next time and the (source, external id) constraint stores them once;
4. records the outcome on the source: on success the error state is cleared and the
   next poll is the source's interval away (±10 % jitter, so sources added together
   spread out); on failure the source shows ``status=error`` with the error's code and
   message, ``consecutive_failures`` grows, and the next poll backs off exponentially
   (the interval × 2^(failures−1), jittered up to +25 %, capped at ``MAX_BACKOFF``),
   never sooner than the server's ``Retry-After``.

Nothing here raises into the worker: every source's poll is wrapped, an unexpected error
is logged with its traceback and shown on the source as ``internal_error``. A pass stops
claiming sources after ``TIME_BUDGET`` seconds so event delivery, which shares the
worker's loop, is not held up by a slow batch of feeds; the rest stay due for the next
pass.

What the poller keeps in ``Source.state`` besides the kind's own keys: ``config_hash``
(when the configuration changes, the kind's state starts afresh: an ETag or a cursor
from another URL means nothing), ``last_poll`` (counts of the last successful poll) and
``warnings`` (from the kind: a partial read, truncated items).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from kith.core.errors import ValidationFailed
from kith.listening import sources
from kith.listening.incoming import FetchResult, SourceError
from kith.listening.models import Source
from kith.listening.sources.http import make_http

logger = logging.getLogger("kith.listening.polling")

POLL_EVERY_SECONDS = 15  # the periodic job's period
TIME_BUDGET = 20.0  # seconds a pass may spend before it leaves the rest for the next
MAX_SOURCES_PER_PASS = 50
LEASE = dt.timedelta(minutes=10)  # a claimed source is not polled again within this
MAX_BACKOFF = 6 * 3600.0
MAX_RETRY_AFTER = 24 * 3600.0
MIN_RETRY = 30.0


@dataclass
class PollOutcome:
    source_id: int
    ok: bool
    code: str = ""
    fetched: int = 0
    created: int | None = None  # None when the items went to the Redis Stream
    not_modified: bool = False
    next_poll_at: dt.datetime | None = None


def polled_kinds() -> list[str]:
    return [name for name, kind in sources.all_kinds().items() if kind.polled]


def due_sources(
    now: dt.datetime | None = None, *, limit: int = MAX_SOURCES_PER_PASS
) -> list[Source]:
    now = now or timezone.now()
    return list(
        Source.objects.filter(enabled=True, kind__in=polled_kinds())
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .order_by(F("next_poll_at").asc(nulls_first=True), "id")[:limit]
    )


def claim(source: Source, now: dt.datetime) -> bool:
    """Take ``source`` for this worker: true when no other worker took it first."""
    rows = Source.objects.filter(pk=source.pk, enabled=True)
    if source.next_poll_at is None:
        rows = rows.filter(next_poll_at__isnull=True)
    else:
        rows = rows.filter(next_poll_at=source.next_poll_at)
    taken = rows.update(next_poll_at=now + LEASE) == 1
    if taken:
        source.next_poll_at = now + LEASE
    return taken


def poll_due_sources(
    *,
    now: dt.datetime | None = None,
    budget: float = TIME_BUDGET,
    http_factory: Callable[[], Any] = make_http,
    rng: random.Random | None = None,
) -> list[PollOutcome]:
    """Poll every due source this pass can take; never raises."""
    started = time.monotonic()
    outcomes: list[PollOutcome] = []
    try:
        due = due_sources(now)
    except Exception:
        logger.exception("listening: could not list the sources due for polling")
        return outcomes
    for source in due:
        if time.monotonic() - started > budget:
            break
        try:
            at = now or timezone.now()
            if not claim(source, at):
                continue
            outcomes.append(poll_source(source, now=at, http_factory=http_factory, rng=rng))
        except Exception:
            # The database failing under us: the claim's lease brings the source back.
            logger.exception("listening: polling source %s failed outside its fetch", source.pk)
    return outcomes


def poll_source(
    source: Source,
    *,
    now: dt.datetime | None = None,
    http_factory: Callable[[], Any] = make_http,
    rng: random.Random | None = None,
) -> PollOutcome:
    """Fetch one (claimed) source, ingest what it gave and record the outcome on it."""
    now = now or timezone.now()
    rng = rng or random.Random()
    try:
        kind = sources.get_kind(source.kind)
    except ValidationFailed:
        return _failed(
            source, SourceError("unknown_kind", f"No source kind {source.kind!r}."), now, rng
        )
    if not kind.polled:
        return _failed(
            source, SourceError("not_polled", "This kind of source is not polled."), now, rng
        )
    try:
        config = kind.validate(source.config or {})
    except ValidationFailed as exc:
        fields = ", ".join(f"{e.field}: {e.message}" for e in exc.errors) or exc.message
        return _failed(
            source,
            SourceError("bad_config", f"The source's settings are not valid ({fields})."),
            now,
            rng,
        )

    # A new access token is the same source; a new URL, hashtag or account is not.
    digest = config_hash({k: v for k, v in config.items() if k not in kind.secret_fields})
    state = dict(source.state or {})
    if state.get("config_hash") != digest:
        state = {}
    for key in ("config_hash", "last_poll", "warnings", "more"):
        state.pop(key, None)

    http = http_factory() if kind.network else None
    try:
        assert kind.fetch is not None
        result: FetchResult = kind.fetch(config, state, http=http)
    except SourceError as exc:
        return _failed(source, exc, now, rng)
    except Exception:
        logger.exception("listening: source %s (%s) fetch raised", source.pk, source.kind)
        return _failed(
            source,
            SourceError(
                "internal_error",
                "An unexpected error while fetching; the worker log has the details.",
            ),
            now,
            rng,
        )
    finally:
        if http is not None:
            http.close()

    created: int | None = 0
    if result.items:
        from kith.listening import services

        try:
            submitted = services.submit(source, result.items)
        except Exception:
            logger.exception("listening: source %s ingest failed", source.pk)
            return _failed(
                source,
                SourceError(
                    "ingest_failed",
                    "The fetched items could not be stored; they are fetched again next time.",
                ),
                now,
                rng,
            )
        created = getattr(submitted, "created", None)
        rejected = getattr(submitted, "rejected", None) or []
        if rejected:
            warnings = list(result.state.get("warnings") or [])
            warnings.append(f"rejected: {len(rejected)} item(s) the pipeline refused")
            result.state["warnings"] = warnings
    return _succeeded(source, result, digest, now, rng, created=created)


def config_hash(config: dict[str, Any]) -> str:
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def backoff_seconds(
    failures: int,
    interval: float,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next try after ``failures`` failures in a row.

    The interval doubled per failure after the first, capped at ``MAX_BACKOFF``, then
    jittered upwards by up to 25 % (never sooner than the doubling: backing off means
    asking less often than usual); a server's ``Retry-After`` (capped at a day) wins
    when it asks for longer.
    """
    rng = rng or random.Random()
    base = min(MAX_BACKOFF, max(MIN_RETRY, interval) * 2 ** min(max(failures, 1) - 1, 30))
    delay = min(MAX_BACKOFF * 1.25, base * rng.uniform(1.0, 1.25))
    if retry_after:
        delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
    return delay


def _succeeded(
    source: Source,
    result: FetchResult,
    digest: str,
    now: dt.datetime,
    rng: random.Random,
    *,
    created: int | None,
) -> PollOutcome:
    state = dict(result.state or {})
    more = bool(state.pop("more", False))
    state["config_hash"] = digest
    state["last_poll"] = {
        "at": now.isoformat(),
        "fetched": len(result.items),
        "created": created,
        "not_modified": result.not_modified,
    }
    if state.get("warnings"):
        logger.info(
            "listening: source %s polled with warnings: %s", source.pk, "; ".join(state["warnings"])
        )
    interval = max(1, source.poll_interval_seconds)
    # More waiting (a long backlog): come back on the next pass, not a whole interval later.
    next_poll_at = now if more else now + dt.timedelta(seconds=interval * rng.uniform(0.9, 1.1))
    Source.objects.filter(pk=source.pk).update(
        state=state,
        status=Source.Status.OK,
        error_code="",
        error_message="",
        consecutive_failures=0,
        last_polled_at=now,
        last_success_at=now,
        next_poll_at=next_poll_at,
    )
    return PollOutcome(
        source_id=source.pk,
        ok=True,
        fetched=len(result.items),
        created=created,
        not_modified=result.not_modified,
        next_poll_at=next_poll_at,
    )


def _failed(
    source: Source, error: SourceError, now: dt.datetime, rng: random.Random
) -> PollOutcome:
    failures = source.consecutive_failures + 1
    delay = backoff_seconds(
        failures, source.poll_interval_seconds, retry_after=error.retry_after, rng=rng
    )
    next_poll_at = now + dt.timedelta(seconds=delay)
    logger.warning(
        "listening: source %s (%s) failed: %s (%s); failure %d in a row, next try in %.0f s",
        source.pk,
        source.kind,
        error.code,
        error.message,
        failures,
        delay,
    )
    Source.objects.filter(pk=source.pk).update(
        status=Source.Status.ERROR,
        error_code=error.code[:60],
        error_message=error.message[:500],
        consecutive_failures=failures,
        last_polled_at=now,
        next_poll_at=next_poll_at,
    )
    return PollOutcome(source_id=source.pk, ok=False, code=error.code, next_poll_at=next_poll_at)


def run_periodic() -> None:
    """The worker's periodic job: one pass over the due sources."""
    outcomes = poll_due_sources()
    if outcomes:
        failed = sum(not o.ok for o in outcomes)
        logger.info("listening: polled %d source(s), %d failed", len(outcomes), failed)
