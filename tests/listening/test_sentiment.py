"""The listening sentiment model: obvious cases, stability and robustness.

Accuracy against VADER and speed are measured by benchmarks/sentiment.py; here a small
slice of the held-out split only guards against a broken model file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kith.listening import sentiment
from kith.listening.sentiment import LABELS, score, score_batch

HELDOUT = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "sentiment_heldout.tsv"
CS_HELDOUT = HELDOUT.with_name("sentiment_cs_heldout.tsv")


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I love it", "positive"),
        ("Thank you so much, the support team was fantastic!", "positive"),
        ("worst support ever, still waiting", "negative"),
        ("This is terrible, I want a refund", "negative"),
        ("store opens at 9", "neutral"),
        ("The new catalogue is online.", "neutral"),
    ],
)
def test_obvious_cases(text: str, label: str) -> None:
    assert score(text)[0] == label


def test_negation_flips_polarity() -> None:
    assert score("the support was good")[0] == "positive"
    assert score("the support was not good")[0] == "negative"


def test_sarcastic_thanks_is_negative() -> None:
    assert score("thanks for nothing")[0] == "negative"


def test_emoji_carries_sentiment() -> None:
    assert score("new phone arrived 😍")[0] == "positive"
    assert score("new phone arrived 😡")[0] == "negative"
    assert score("new phone arrived 😞")[0] == "negative"


def test_labels_and_confidences_are_well_formed() -> None:
    out = score_batch(["great", "awful", "tuesday"])
    assert [lab for lab, _ in out] == ["positive", "negative", "neutral"]
    for lab, conf in out:
        assert lab in LABELS
        assert 1 / 3 <= conf <= 1.0


def test_deterministic_and_batch_equals_single() -> None:
    texts = [
        "love the new app!",
        "still no reply from support",
        "the store opens at 9",
        "not bad at all",
        "",
    ] * 3
    batch = score_batch(texts)
    assert batch == score_batch(texts)
    assert batch == [score(t) for t in texts]
    # Order and neighbours in the batch do not change a text's answer.
    assert score_batch(texts[::-1]) == batch[::-1]


def test_empty_batch() -> None:
    assert score_batch([]) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "😀😀😀",
        "🙄",
        "💩💩",
        "!!!???",
        "これはペンです",
        "Der Kundendienst war leider sehr schlecht",
        "مرحبا بكم",
        "\x00\x01\u200b",
        "@someone https://example.com/x?y=1 #tag",
        "a" * 1_000_000,
        "great " * 200_000,
        "\ud800 lone surrogate",
    ],
)
def test_odd_input_never_crashes(text: str) -> None:
    label, conf = score(text)
    assert label in LABELS
    assert 0.0 < conf <= 1.0


def test_huge_input_is_cut_not_slow() -> None:
    # Only the first MAX_CHARS characters are read, so a megabyte post costs a short one.
    long = "terrible service " * 100_000
    assert score(long) == score(long[: sentiment.MAX_CHARS])


def test_model_file_is_small_and_packaged() -> None:
    path = sentiment.model_path()
    assert path.name == "sentiment.npz"
    assert path.stat().st_size < 5_000_000


def _model_and_vader_accuracy(rows: list[dict[str, str]]) -> tuple[float, float]:
    """Accuracy of the model and of VADER (its usual ±0.05 cut) on held-out rows."""
    vader_sentiment = pytest.importorskip("vaderSentiment.vaderSentiment")
    texts = [r["text"] for r in rows]
    gold = [r["label"] for r in rows]
    ours = [lab for lab, _ in score_batch(texts)]
    sia = vader_sentiment.SentimentIntensityAnalyzer()

    def vader_label(t: str) -> str:
        c = sia.polarity_scores(t)["compound"]
        return "positive" if c >= 0.05 else ("negative" if c <= -0.05 else "neutral")

    acc = sum(a == b for a, b in zip(ours, gold, strict=True)) / len(gold)
    vacc = sum(vader_label(t) == g for t, g in zip(texts, gold, strict=True)) / len(gold)
    return acc, vacc


def test_beats_vader_on_a_held_out_slice() -> None:
    with HELDOUT.open(encoding="utf-8", newline="") as f:
        # Every eighth row: a slice across all four sources (the file is grouped by source).
        rows = list(csv.DictReader(f, delimiter="\t"))[::8]
    acc, vacc = _model_and_vader_accuracy(rows)
    assert acc > vacc + 0.03
    assert acc >= 0.65


def test_beats_vader_on_the_in_domain_held_out_rows() -> None:
    # Short brand, product and service posts (tweets, Amazon, UCI Amazon and Yelp): the
    # register the model is for. Measured 2026-12-07: 0.788 against VADER's 0.716.
    with HELDOUT.open(encoding="utf-8", newline="") as f:
        rows = [
            r
            for r in csv.DictReader(f, delimiter="\t")
            if r["source"] in {"tweets", "amazon", "uci_amazon", "uci_yelp"}
        ]
    assert len(rows) > 1500
    acc, vacc = _model_and_vader_accuracy(rows)
    assert acc >= 0.78
    assert acc > vacc + 0.05


def test_beats_vader_on_the_customer_service_held_out_set() -> None:
    # Customer-service posts written by someone who wrote no training text; the trainer
    # drops any supplement row equal to one of them. Measured 2026-12-07: 0.912 against
    # VADER's 0.563 (the model before the customer-service supplement: 0.672).
    lines = [line for line in CS_HELDOUT.open(encoding="utf-8") if not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    assert len(rows) == 600
    acc, vacc = _model_and_vader_accuracy(rows)
    assert acc >= 0.85
    assert acc > vacc + 0.2


@pytest.mark.parametrize(
    ("text", "markup"),
    [
        ("@acme_support my order is late", True),
        ("see https://example.com/status", True),
        ("loving the #newlook", True),
        ("my order is late", False),
        ("mail me at someone@example.com", False),  # an address is not a handle
        ("", False),
    ],
)
def test_social_markup_is_detected(text: str, markup: bool) -> None:
    assert sentiment.has_markup(text) is markup


def test_markup_columns_follow_vader_only_on_marked_up_posts() -> None:
    model = sentiment.get_model()
    names = sentiment.DENSE_FEATURES
    first = names.index("markup")
    plain = model.featuriser.features("I love this store")[1]
    marked = model.featuriser.features("@acme I love this store")[1]
    assert plain[first:] == [0.0] * (len(names) - first)
    assert marked[names.index("markup")] > 0
    assert marked[names.index("markup_vader_compound")] > 0  # VADER finds "love" positive
    assert len(marked) == len(names)
