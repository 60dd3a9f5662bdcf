"""The pipeline's steps one by one (plain functions, no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from kith.listening import pipeline
from kith.listening.incoming import IncomingMention
from kith.listening.pipeline import Prepared

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def item(ext="1", text="hello there", **kw) -> IncomingMention:
    return IncomingMention(external_id=ext, text=text, channel=kw.pop("channel", "webhook"), **kw)


# ---------------------------------------------------------------- normalise


def test_normalise_strips_html_decodes_entities_and_applies_nfc():
    raw = "<p>Caf\u0065\u0301 <b>bad</b>&amp; slow<script>alert(1)</script></p>\n\n  again"
    [p], rejected = pipeline.normalise([item(text=raw)], now=NOW)
    assert rejected == []
    assert p.item.text == "Café bad& slow again"
    assert p.item.text == "Caf\u00e9 bad& slow again"  # composed é (NFC)


def test_normalise_bounds_lengths_and_refuses_empty_or_missing_ids():
    long = "word " * 3000
    kept, rejected = pipeline.normalise(
        [item("a", long), item("", "text"), item("b", "<br><br>"), item("x" * 300, "t")], now=NOW
    )
    assert [p.item.external_id for p in kept] == ["a"]
    assert len(kept[0].item.text) == pipeline.MAX_TEXT
    assert [(r.index, r.field) for r in rejected] == [
        (1, "external_id"),
        (2, "text"),
        (3, "external_id"),
    ]


def test_normalise_dates_urls_and_followers():
    future = NOW + dt.timedelta(days=2)
    naive = dt.datetime(2026, 11, 19, 8, 0)
    kept, _ = pipeline.normalise(
        [
            item("1", published_at=future, url="javascript:alert(1)", author_followers=-5),
            item("2", published_at=naive, url="https://ex.org/p/2"),
            item("3"),
        ],
        now=NOW,
    )
    a, b, c = (p.item for p in kept)
    assert a.published_at == NOW and a.url == "" and a.author_followers == 0
    assert b.published_at == naive.replace(tzinfo=dt.UTC) and b.url == "https://ex.org/p/2"
    assert c.published_at == NOW  # no date: when we saw it


# ---------------------------------------------------------------- duplicates


def test_exact_duplicates_inside_the_batch_and_already_stored():
    prepared, _ = pipeline.normalise([item("1"), item("2"), item("1"), item("3")], now=NOW)
    fresh, dropped = pipeline.drop_exact_duplicates(prepared, lambda ids: {"3"} & set(ids))
    assert [p.item.external_id for p in fresh] == ["1", "2"]
    assert dropped == 2


def test_fingerprint_ignores_case_urls_handles_rt_and_punctuation():
    a = pipeline.text_fingerprint("The new app keeps crashing on login!! https://t.co/x")
    b = pipeline.text_fingerprint("RT @ana: the NEW app keeps crashing on login https://t.co/y")
    c = pipeline.text_fingerprint("The new app never crashes on login")
    assert a == b != c
    assert pipeline.text_fingerprint("!!! https://x.y") == ""


def test_near_duplicates_reposts_quote_copies_and_stored_originals():
    texts = [
        "The checkout page has been broken for two days now, fix it please",
        "RT @ana: The checkout page has been broken for two days now, fix it please",
        "So true! The checkout page has been broken for two days now fix it please",
        "Totally different post about the lovely new colours in the app",
        "Quoting: \u201cthe support line hangs up after ten minutes every time\u201d",
        "ok thanks",
        "ok thanks!",
    ]
    prepared, _ = pipeline.normalise([item(str(i), t) for i, t in enumerate(texts)], now=NOW)
    stored_fp = pipeline.text_fingerprint("the support line hangs up after ten minutes every time")
    count = pipeline.mark_near_duplicates(
        prepared, lambda fps: {stored_fp: 42} if stored_fp in fps else {}
    )
    dup = {
        p.index: (p.duplicate_of_index, p.duplicate_of_id) for p in prepared if p.is_near_duplicate
    }
    assert dup == {1: (0, None), 2: (0, None), 4: (None, 42), 6: (5, None)}
    assert count == 4


# ---------------------------------------------------------------- language


def test_language_detection_on_short_posts_restricted_to_configured_languages(settings):
    settings.KITH_LISTENING_LANGUAGES = ["en", "fr", "de", "es", "pt"]
    texts = [
        "Your app crashed again after the update",
        "Merci pour le support rapide, super service",
        "Der Versand hat viel zu lange gedauert",
        "El producto llegó roto y nadie responde",
        "o atendimento foi ótimo, obrigado",
        "?!",
        "hallo hoe gaat het met je",  # Dutch is not configured: never answered
    ]
    langs = pipeline.detect_languages(texts)
    assert langs[:6] == ["en", "fr", "de", "es", "pt", ""]
    assert langs[6] in {"en", "fr", "de", "es", "pt"}
    assert pipeline.detect_languages(["Der Versand"], ["fr"]) == ["fr"]  # a hint wins


# ---------------------------------------------------------------- sentiment


def test_sentiment_goes_through_the_sentiment_module(monkeypatch):
    import types

    fake = types.SimpleNamespace(score_batch=lambda texts: [("negative", 1.7), ("odd", 0.4)])
    monkeypatch.setattr(pipeline, "_sentiment_module", lambda: fake)
    assert pipeline.score_sentiment(["a", "b"]) == [("negative", 1.0), ("neutral", 0.4)]


def test_sentiment_falls_back_to_neutral_only_while_the_module_is_missing(monkeypatch):
    monkeypatch.setattr(pipeline, "_sentiment_module", lambda: None)
    assert pipeline.score_sentiment(["a", "b"]) == [("neutral", 0.0), ("neutral", 0.0)]


# ---------------------------------------------------------------- keywords, topics


def test_keywords_on_word_boundaries_longest_first_and_hashtags():
    matcher = pipeline.KeywordMatcher(["Acme", "acme cloud", "Globex"])
    assert matcher.match("Acme Cloud is down, acmes are not, #Acme") == ["acme cloud", "acme"]
    assert matcher.match("megaglobex and globexy") == []
    assert pipeline.KeywordMatcher([]).match("anything") == []
    assert pipeline.extract_hashtags("#Fail and #fail and a&#39;b #x") == ["fail"]


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("the app crashed twice", "bug"),
        ("Still waiting for my refund", "billing"),
        ("love it, thank you", "praise"),
        ("nothing in particular #Launch", "launch"),
        ("nothing in particular", "general"),
    ],
)
def test_cheap_topic_labels(text, topic):
    assert pipeline.topic_of(text, pipeline.extract_hashtags(text)) == topic


# ---------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("channel", "handle", "key"),
    [
        ("mastodon", "@Ana@Mastodon.Social", ("mastodon", "ana@mastodon.social")),
        ("twitter", "@AnaLima", ("twitter", "analima")),
        ("twitter", "https://twitter.com/AnaLima", ("twitter", "analima")),
        ("case_mail", "Ana@Example.com", ("email", "ana@example.com")),
        ("webhook", "ana@example.com", ("email", "ana@example.com")),
        ("community", "ana", None),
        ("rss", "", None),
    ],
)
def test_author_keys(channel, handle, key):
    assert pipeline.author_key(channel, handle) == key


def test_match_authors_by_exact_handle_per_channel():
    prepared = [
        Prepared(item=item("1", channel="mastodon", author_handle="@ana@m.social")),
        Prepared(item=item("2", channel="twitter", author_handle="@ana")),
        Prepared(item=item("3", channel="email", author_handle="bo@ex.org")),
        Prepared(item=item("4", channel="twitter", author_handle="@nobody")),
    ]
    calls = []

    def lookup(channel, values):
        calls.append((channel, values))
        table = {("mastodon", "ana@m.social"): 7, ("email", "bo@ex.org"): 9}
        return {v: table[(channel, v)] for v in values if (channel, v) in table}

    assert pipeline.match_authors(prepared, lookup) == 2
    assert [p.person_id for p in prepared] == [7, None, 9, None]
    assert sorted(c[0] for c in calls) == ["email", "mastodon", "twitter"]  # one per channel


def test_unmatched_authors_go_to_the_resolver_once_each():
    prepared = [
        Prepared(item=item("1", channel="twitter", author_handle="@ana", author_name="Ana")),
        Prepared(item=item("2", channel="twitter", author_handle="@Ana")),
        Prepared(item=item("3", channel="twitter", author_handle="@known")),
        Prepared(item=item("4", channel="twitter", author_handle="@nobody")),
    ]
    asked = []

    def resolve(channel, value, name):
        asked.append((channel, value, name))
        return 5 if value == "ana" else None

    lookup = lambda channel, values: {"known": 3} if "known" in values else {}  # noqa: E731
    assert pipeline.match_authors(prepared, lookup, resolve) == 3
    assert [p.person_id for p in prepared] == [5, 5, 3, None]
    assert asked == [("twitter", "ana", "Ana"), ("twitter", "nobody", "")]


# ---------------------------------------------------------------- priority


def test_priority_negativity_influence_recency_and_a_rank_that_never_goes_stale():
    old = NOW - dt.timedelta(hours=24)
    angry_star = pipeline.priority_rank(
        pipeline.negativity("negative", 0.9), pipeline.influence(100_000), NOW
    )
    angry_nobody = pipeline.priority_rank(
        pipeline.negativity("negative", 0.9), pipeline.influence(3), NOW
    )
    happy_star = pipeline.priority_rank(
        pipeline.negativity("positive", 0.9), pipeline.influence(100_000), NOW
    )
    angry_star_yesterday = pipeline.priority_rank(
        pipeline.negativity("negative", 0.9), pipeline.influence(100_000), old
    )
    assert angry_star > angry_nobody > happy_star
    assert angry_star > angry_star_yesterday
    # One half-life later the priority halves; the order by rank holds at any time.
    p_now = pipeline.priority_at(angry_star, NOW)
    p_later = pipeline.priority_at(angry_star, NOW + pipeline.PRIORITY_HALF_LIFE)
    assert p_later == pytest.approx(p_now / 2, rel=1e-3)
    assert pipeline.priority_at(angry_star_yesterday, NOW) == pytest.approx(p_later, rel=1e-3)
    assert pipeline.influence(10, score=1.0) > pipeline.influence(10)
    assert 0 < p_now <= 100
