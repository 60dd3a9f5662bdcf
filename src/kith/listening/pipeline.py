"""The listening pipeline's steps, each a plain function over a batch.

normalise → drop exact duplicates → mark near-duplicates → language → sentiment →
keywords and topics → match authors → priority. Storage (one transaction, the database
as the arbiter of duplicates) is ``kith.listening.services.ingest``; this module reads
the database only to look things up (existing ids, fingerprints, contact points).

Choices, measured on this machine (see benchmarks/listening.py):

* **Language**: py3langid (the maintained fork of langid.py; naive Bayes over byte
  n-grams, model shipped inside the 4.5 MB wheel, numpy only) restricted to the
  configured languages (``KITH_LISTENING_LANGUAGES``). On short brand posts in seven
  languages it was as accurate as lingua-language-detector restricted the same way,
  at about 50,000 texts/s against lingua's 1,200/s (and lingua's 96 MB of models).
* **Near-duplicates**: a fingerprint of the normalised text (case, URLs, @handles,
  "RT", punctuation removed) catches reposts across the database through an index;
  quote-copies ("so true! <the original>") are caught inside a batch by RapidFuzz's
  token-set ratio (C++, already pinned), and against the database through the
  fingerprint of the quoted part ("RT @x: …", text in quotation marks).
* **Sentiment**: ``kith.listening.sentiment.score_batch`` (its own module and model);
  while that module is missing every text is scored neutral with confidence 0.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import importlib
import logging
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import nh3
from django.conf import settings
from django.utils import timezone

from kith.listening.incoming import IncomingMention

logger = logging.getLogger(__name__)

MAX_TEXT = 5000
MAX_EXTERNAL_ID = 255
MAX_HANDLE = 255
MAX_NAME = 200
MAX_URL = 1000
MAX_RAW_KEYS = 30
DEFAULT_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")
# Texts with fewer letters than this get no language (a guess would be noise).
MIN_LETTERS_FOR_LANGUAGE = 3
# RapidFuzz token-set ratio at or above which two texts of a batch are one post copied.
NEAR_DUPLICATE_RATIO = 90.0
# Shorter normalised texts are compared only by fingerprint ("ok thanks" is not a copy).
MIN_TOKENS_FOR_FUZZY = 5
# Earlier posts compared per key word (the most recent ones): bounds the work per post.
MAX_FUZZY_CANDIDATES = 30
# Recency half-life of the engagement priority.
PRIORITY_HALF_LIFE = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Rejection:
    """An item the pipeline refused, with why (reported back to the uploader)."""

    index: int
    external_id: str
    field: str
    reason: str


@dataclass
class Prepared:
    """One mention in flight through the pipeline (fields filled step by step)."""

    item: IncomingMention
    index: int = 0
    fingerprint: str = ""
    quoted_fingerprint: str = ""
    duplicate_of_id: int | None = None  # an existing mention this one copies
    duplicate_of_index: int | None = None  # an earlier item of the same batch
    language: str = ""
    sentiment_label: str = "neutral"
    sentiment_confidence: float = 0.0
    keywords: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    topic: str = ""
    person_id: int | None = None

    @property
    def is_near_duplicate(self) -> bool:
        return self.duplicate_of_id is not None or self.duplicate_of_index is not None

    @property
    def sentiment_score(self) -> float:
        """Signed polarity in [-1, 1] (the Interaction.sentiment scale)."""
        conf = max(0.0, min(1.0, self.sentiment_confidence))
        if self.sentiment_label == "negative":
            return -conf
        if self.sentiment_label == "positive":
            return conf
        return 0.0


# ---------------------------------------------------------------- normalise

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE_RE = re.compile(r"\s+")


def clean_text(value: str, *, limit: int) -> str:
    """HTML → text (nh3 strips every tag, entities decoded), NFC, one space, bounded."""
    value = value or ""
    if "<" in value or "&" in value:
        # nh3 drops tags (and the content of script/style) and escapes the rest.
        value = html.unescape(nh3.clean(value, tags=set()))
    value = unicodedata.normalize("NFC", value)
    value = _SPACE_RE.sub(" ", _CONTROL_RE.sub(" ", value)).strip()
    return value[:limit]


def _clean_url(value: str) -> str:
    value = (value or "").strip()[:MAX_URL]
    if not value:
        return ""
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:
        return ""
    # Only web links are kept: a javascript: or data: URL is never shown as a link.
    return value if scheme in ("http", "https") else ""


def _clean_date(value: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    if value is None:
        return now
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    # A clock ahead of ours must not put a post at the top of every "latest" list.
    return min(value, now)


def _clean_raw(raw: Any) -> dict:
    if not isinstance(raw, dict):
        return {}
    out = {}
    for key, value in list(raw.items())[:MAX_RAW_KEYS]:
        if isinstance(value, str):
            value = value[:500]
        elif not isinstance(value, int | float | bool) and value is not None:
            continue  # only scalars are kept: raw is a note, not a dump
        out[str(key)[:60]] = value
    return out


def normalise(
    items: Sequence[IncomingMention], *, now: dt.datetime | None = None
) -> tuple[list[Prepared], list[Rejection]]:
    """Clean every item; refuse those without an id or any text."""
    now = now or timezone.now()
    kept: list[Prepared] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(items):
        ext = clean_text(str(item.external_id or ""), limit=MAX_EXTERNAL_ID + 1)
        if not ext:
            rejected.append(Rejection(index, "", "external_id", "This field is required."))
            continue
        if len(ext) > MAX_EXTERNAL_ID:
            rejected.append(
                Rejection(index, ext[:60], "external_id", f"At most {MAX_EXTERNAL_ID} characters.")
            )
            continue
        text = clean_text(item.text, limit=MAX_TEXT)
        if not text:
            rejected.append(Rejection(index, ext, "text", "No text left after cleaning."))
            continue
        channel = clean_text(item.channel, limit=20).lower() or "other"
        followers = item.author_followers
        if followers is not None:
            try:
                followers = max(0, min(int(followers), 2_000_000_000))
            except (TypeError, ValueError):
                followers = None
        cleaned = replace(
            item,
            external_id=ext,
            text=text,
            channel=channel,
            url=_clean_url(item.url),
            published_at=_clean_date(item.published_at, now),
            author_handle=clean_text(item.author_handle, limit=MAX_HANDLE),
            author_name=clean_text(item.author_name, limit=MAX_NAME),
            author_url=_clean_url(item.author_url),
            author_followers=followers,
            in_reply_to=clean_text(item.in_reply_to, limit=MAX_EXTERNAL_ID),
            language_hint=clean_text(item.language_hint, limit=8).lower(),
            raw=_clean_raw(item.raw),
        )
        kept.append(Prepared(item=cleaned, index=index))
    return kept, rejected


# ---------------------------------------------------------------- duplicates

_URL_RE = re.compile(r"https?://\S+")
_HANDLE_RE = re.compile(r"(?<!\w)@[\w.@-]+")
_RT_RE = re.compile(r"^(?:rt|via)\b[:\s]*", re.IGNORECASE)
_WORD_RE = re.compile(r"\w+")
_QUOTED_RE = re.compile(r"(?:\bRT @[\w.@-]+:\s*(.+)$)|[\"“«](.{20,}?)[\"”»]", re.DOTALL)


def fingerprint_tokens(text: str) -> list[str]:
    """The words that make a post the same post: no case, URLs, handles or punctuation."""
    text = _URL_RE.sub(" ", text.casefold())
    text = _HANDLE_RE.sub(" ", text)
    text = _RT_RE.sub("", text.strip())
    return _WORD_RE.findall(text)


def text_fingerprint(text: str) -> str:
    """A 40-hex hash of the fingerprint tokens ("" when nothing is left)."""
    tokens = fingerprint_tokens(text)
    if not tokens:
        return ""
    return hashlib.sha1(" ".join(tokens).encode(), usedforsecurity=False).hexdigest()


def quoted_part(text: str) -> str:
    """The part of a post quoting another ("RT @x: …", or a long quotation), or ""."""
    found = _QUOTED_RE.search(text)
    if not found:
        return ""
    return (found.group(1) or found.group(2) or "").strip()


def drop_exact_duplicates(
    prepared: list[Prepared], existing_ids: Callable[[list[str]], set[str]]
) -> tuple[list[Prepared], int]:
    """Drop items whose external id repeats inside the batch or is already stored.

    ``existing_ids(ids)`` answers which of ``ids`` the source already has. This is the
    cheap early filter; the unique constraint on (source, external_id) stays the arbiter
    when two workers race on the same item.
    """
    seen: set[str] = set()
    unique: list[Prepared] = []
    for p in prepared:
        if p.item.external_id in seen:
            continue
        seen.add(p.item.external_id)
        unique.append(p)
    stored = existing_ids([p.item.external_id for p in unique]) if unique else set()
    fresh = [p for p in unique if p.item.external_id not in stored]
    return fresh, len(prepared) - len(fresh)


def mark_near_duplicates(
    prepared: list[Prepared], existing_by_fingerprint: Callable[[list[str]], dict[str, int]]
) -> int:
    """Fill ``fingerprint`` and point copies at their original; returns how many copies.

    A copy is still stored (it counts in volume and share of voice) but never enters the
    engagement queue: one complaint reposted fifty times is one thing to answer.
    """
    from rapidfuzz import fuzz

    token_lists = [fingerprint_tokens(p.item.text) for p in prepared]
    for p, tokens in zip(prepared, token_lists, strict=True):
        p.fingerprint = (
            hashlib.sha1(" ".join(tokens).encode(), usedforsecurity=False).hexdigest()
            if tokens
            else ""
        )
        quoted = quoted_part(p.item.text)
        p.quoted_fingerprint = text_fingerprint(quoted) if quoted else ""
    lookups = {p.fingerprint for p in prepared if p.fingerprint} | {
        p.quoted_fingerprint for p in prepared if p.quoted_fingerprint
    }
    stored = existing_by_fingerprint(sorted(lookups)) if lookups else {}
    first_in_batch: dict[str, int] = {}
    for pos, p in enumerate(prepared):
        if p.fingerprint in stored:
            p.duplicate_of_id = stored[p.fingerprint]
        elif p.quoted_fingerprint in stored:
            p.duplicate_of_id = stored[p.quoted_fingerprint]
        elif p.fingerprint and p.fingerprint in first_in_batch:
            p.duplicate_of_index = first_in_batch[p.fingerprint]
        elif p.quoted_fingerprint and p.quoted_fingerprint in first_in_batch:
            p.duplicate_of_index = first_in_batch[p.quoted_fingerprint]
        if p.fingerprint:
            first_in_batch.setdefault(p.fingerprint, pos)
    # Quote-copies inside the batch: token-set ratio over the fingerprint tokens of
    # posts long enough to compare, each against earlier ones sharing one of its two
    # longest words (a copy contains the original's words; comparing every pair cost
    # 0.35 s per 500 posts, this a few ms).
    postings: dict[str, list[int]] = {}
    for pos, p in enumerate(prepared):
        if p.is_near_duplicate:
            continue
        tokens = token_lists[pos]
        if len(tokens) < MIN_TOKENS_FOR_FUZZY:
            continue
        text = " ".join(tokens)
        keys = sorted(set(tokens), key=lambda t: (-len(t), t))[:2]
        seen: set[int] = set()
        for key in keys:
            for other in postings.get(key, ())[-MAX_FUZZY_CANDIDATES:]:
                if other in seen:
                    continue
                seen.add(other)
                other_text = " ".join(token_lists[other])
                if fuzz.token_set_ratio(text, other_text) >= NEAR_DUPLICATE_RATIO:
                    target = prepared[other]
                    p.duplicate_of_index = (
                        target.duplicate_of_index
                        if target.duplicate_of_index is not None
                        else other
                    )
                    p.duplicate_of_id = target.duplicate_of_id
                    break
            if p.is_near_duplicate:
                break
        if p.is_near_duplicate:
            continue
        for token in set(tokens):
            postings.setdefault(token, []).append(pos)
    return sum(1 for p in prepared if p.is_near_duplicate)


# ---------------------------------------------------------------- language


def configured_languages() -> tuple[str, ...]:
    langs = getattr(settings, "KITH_LISTENING_LANGUAGES", None) or DEFAULT_LANGUAGES
    return tuple(sorted({str(lang).strip().lower() for lang in langs if str(lang).strip()}))


@lru_cache(maxsize=4)
def _identifier(languages: tuple[str, ...]):
    # Loaded once per process (about 1 s): the model ships inside the py3langid wheel.
    from py3langid import langid as langid_module
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_modelpath(langid_module.MODEL_DIR / MODEL_FILE, norm_probs=True)
    usable = [lang for lang in languages if lang in ident.nb_classes]
    ident.set_languages(usable or None)
    return ident


def detect_languages(texts: Sequence[str], hints: Sequence[str] | None = None) -> list[str]:
    """ISO 639-1 code per text, among the configured languages; "" when too short.

    A hint the source declared wins when it is one of the configured languages.
    """
    languages = configured_languages()
    ident = _identifier(languages)
    out: list[str] = []
    for pos, text in enumerate(texts):
        hint = (hints[pos] if hints else "")[:2]
        if hint and hint in languages:
            out.append(hint)
            continue
        letters = sum(1 for ch in text[:200] if ch.isalpha())
        if letters < MIN_LETTERS_FOR_LANGUAGE:
            out.append("")
            continue
        out.append(ident.classify(text)[0])
    return out


# ---------------------------------------------------------------- sentiment

_warned_no_sentiment = False


def _sentiment_module():
    """The sentiment module, or None while it does not exist yet (only that case)."""
    try:
        return importlib.import_module("kith.listening.sentiment")
    except ModuleNotFoundError as exc:
        if exc.name != "kith.listening.sentiment":
            raise  # the module exists but something it needs is missing: say so
        return None


def score_sentiment(texts: Sequence[str]) -> list[tuple[str, float]]:
    """(label, confidence) per text from ``kith.listening.sentiment.score_batch``.

    Falls back to ("neutral", 0.0) for every text, with a warning, only while the
    sentiment module is absent.
    """
    global _warned_no_sentiment
    if not texts:
        return []
    module = _sentiment_module()
    if module is None:
        if not _warned_no_sentiment:
            logger.warning("kith.listening.sentiment is missing: mentions scored neutral")
            _warned_no_sentiment = True
        return [("neutral", 0.0)] * len(texts)
    scored = module.score_batch(list(texts))
    out = []
    for label, conf in scored:
        label = label if label in ("negative", "neutral", "positive") else "neutral"
        out.append((label, max(0.0, min(1.0, float(conf)))))
    return out


# ---------------------------------------------------------------- keywords, topics

_HASHTAG_RE = re.compile(r"(?<![\w&])#(\w{2,50})")

# A cheap topic label from word lists (first match in this order), else the first hashtag.
TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "outage": ("outage", "down", "offline", "not working", "doesn't work", "does not work"),
    "bug": ("bug", "crash", "crashes", "crashed", "error", "broken", "glitch", "freeze"),
    "billing": ("refund", "charged", "charge", "invoice", "billing", "payment", "price"),
    "delivery": ("delivery", "shipping", "shipped", "package", "parcel", "arrived", "late"),
    "support": ("support", "customer service", "agent", "no answer", "waiting", "response"),
    "feature": ("feature", "wish", "please add", "would love", "suggestion", "roadmap"),
    "praise": ("love", "great", "awesome", "amazing", "thank you", "thanks", "best"),
}
_TOPIC_RES = [
    (topic, re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)"))
    for topic, words in TOPIC_WORDS.items()
]


def normalise_term(term: str) -> str:
    return " ".join(unicodedata.normalize("NFC", term or "").casefold().split())


class KeywordMatcher:
    """Tracked keywords matched on word boundaries, case-insensitively, in one regex."""

    def __init__(self, terms: Iterable[str]):
        self.terms = sorted({normalise_term(t) for t in terms if normalise_term(t)}, key=len)
        self.terms.reverse()  # longest first, so "acme cloud" wins over "acme"
        self._re = (
            re.compile(
                r"(?<!\w)(" + "|".join(re.escape(t) for t in self.terms) + r")(?!\w)",
                re.IGNORECASE,
            )
            if self.terms
            else None
        )

    def match(self, text: str) -> list[str]:
        if self._re is None:
            return []
        found: list[str] = []
        for m in self._re.finditer(unicodedata.normalize("NFC", text)):
            term = " ".join(m.group(1).casefold().split())
            if term not in found:
                found.append(term)
        return found


def extract_hashtags(text: str) -> list[str]:
    out: list[str] = []
    for tag in _HASHTAG_RE.findall(text):
        tag = tag.casefold()
        if tag not in out:
            out.append(tag)
    return out[:20]


def topic_of(text: str, hashtags: Sequence[str] = ()) -> str:
    lowered = text.casefold()
    for topic, pattern in _TOPIC_RES:
        if pattern.search(lowered):
            return topic
    return hashtags[0][:60] if hashtags else "general"


def tag_keywords_and_topics(prepared: list[Prepared], matcher: KeywordMatcher) -> None:
    for p in prepared:
        p.keywords = matcher.match(p.item.text)
        p.hashtags = extract_hashtags(p.item.text)
        p.topic = topic_of(p.item.text, p.hashtags)


# ---------------------------------------------------------------- author matching

# Channels whose author handle is an e-mail address.
EMAIL_CHANNELS = frozenset({"email", "case_mail", "community", "mail"})


def author_key(channel: str, handle: str) -> tuple[str, str] | None:
    """The (contact point channel, normalised value) an author handle is looked up by.

    Mail channels and handles shaped like an address ("ana@example.com") look up e-mail;
    a Mastodon handle keeps its instance ("ana@mastodon.social"); any other handle is
    looked up on its own channel without the leading "@" and case.
    """
    handle = (handle or "").strip()
    if not handle:
        return None
    if "://" in handle:
        handle = urlsplit(handle).path.strip("/").split("/")[-1]
    bare = handle.lstrip("@").casefold()
    if not bare:
        return None
    if channel == "mastodon":
        return "mastodon", bare
    looks_like_email = not handle.startswith("@") and re.fullmatch(r"[^@\s]+@[^@\s]+\.\w+", bare)
    if channel in EMAIL_CHANNELS or looks_like_email:
        return ("email", bare) if "@" in bare else None
    return channel, bare


def match_authors(
    prepared: list[Prepared],
    lookup: Callable[[str, list[str]], dict[str, int]],
    resolve: Callable[[str, str, str], int | None] | None = None,
) -> int:
    """Set ``person_id`` from exact handles on the channel (e-mail for mail channels).

    ``lookup(channel, values)`` answers {normalised value: party id} for active persons.
    Authors still unmatched go to ``resolve(channel, value, author name)`` (the
    identity-resolution service, when there is one), once per distinct author.
    Returns how many were matched.
    """
    wanted: dict[str, set[str]] = {}
    keys: list[tuple[str, str] | None] = []
    for p in prepared:
        key = author_key(p.item.channel, p.item.author_handle)
        keys.append(key)
        if key:
            wanted.setdefault(key[0], set()).add(key[1])
    found: dict[tuple[str, str], int | None] = {}
    for channel, values in wanted.items():
        for value, party_id in lookup(channel, sorted(values)).items():
            found[(channel, value)] = party_id
    for p, key in zip(prepared, keys, strict=True):
        if key is None:
            continue
        if key not in found and resolve is not None:
            found[key] = resolve(key[0], key[1], p.item.author_name)
        if found.get(key):
            p.person_id = found[key]
    return sum(1 for p in prepared if p.person_id)


# ---------------------------------------------------------------- priority

NEGATIVITY = {"negative": 0.6, "neutral": 0.2, "positive": 0.05}


def negativity(label: str, confidence: float) -> float:
    """How much a mention asks for an answer, from its sentiment: (0, 1]."""
    base = NEGATIVITY.get(label, 0.2)
    if label == "negative":
        return base + 0.4 * max(0.0, min(1.0, confidence))
    return base


def influence(followers: int | None, score: float | None = None) -> float:
    """Author influence in (0, 1]: log of followers, lifted by the insights score."""
    reach = math.log10(1 + max(0, followers or 0))  # 0 … ~9
    lifted = 1.0 + reach + 3.0 * max(0.0, min(1.0, score or 0.0))
    return min(lifted, 10.0) / 10.0


def priority_rank(neg: float, infl: float, published_at: dt.datetime) -> float:
    """The time-invariant sort key: ln(negativity × influence) + t·ln2 / half-life.

    priority(now) = 100 × negativity × influence × 2^(-(now - t) / half-life), so
    ln priority(now) = rank + constant(now): ordering by rank is ordering by priority
    at any instant, and the stored key never goes stale.
    """
    return math.log(max(neg * infl, 1e-9)) + (
        published_at.timestamp() * math.log(2) / PRIORITY_HALF_LIFE.total_seconds()
    )


def priority_at(rank: float, now: dt.datetime) -> float:
    """The 0–100 priority a rank stands for at ``now``."""
    exponent = rank - now.timestamp() * math.log(2) / PRIORITY_HALF_LIFE.total_seconds()
    return round(100.0 * min(1.0, math.exp(min(exponent, 0.0))), 3)
