"""Sentiment of short posts: negative / neutral / positive, offline, on the CPU.

The model is linear (softmax over one weight matrix) in sparse features of one post; the
trainer blends a multinomial logistic regression with naive-Bayes-weighted one-vs-rest
ones (NBSVM) and saves the blend as that one matrix. The features:

* word unigrams, with the words inside a negation's scope marked (``not good`` gives
  ``good`` → ``¬good``, until the next punctuation), so "not good" and "good" differ;
* word bigrams (unmarked), which carry phrases such as "still waiting" or "thanks for";
* lexicon features: the valences of the words in a sentiment lexicon (VADER's, MIT
  licence), summed separately for positive and negative words after flipping negated
  ones, plus emoji and emoticon counts, so words never seen in training still count;
* VADER's own four scores (``vaderSentiment``, pure Python, ~7,000 texts/s), whose
  hand-made rules (boosters, "but", capitals) the linear model can then correct;
* whether the post carries social markup (an @handle, a link, a hashtag), alone and times
  VADER's scores: the raters of tweets followed VADER more closely than those of review
  and editorial snippets, and these let the model weigh VADER by register.

(Character n-grams were tried and dropped: worse on the validation split and 2× slower;
tried again 2026-12-07 as hashed character 2-5-grams, and again no better.)

Its weights, vocabulary and lexicon live in ``models_data/sentiment.npz`` (shipped as
package data, loaded once per process on first use); ``scripts/train_sentiment.py``
makes that file reproducibly and prints its held-out evaluation. Nothing is fetched at run
time and the only dependency is numpy. The feature extraction here is the one the trainer
uses, so training and serving cannot drift apart.

Public API: ``score_batch(texts)`` and ``score(text)`` return ``(label, confidence)`` with
the label in ``LABELS`` and the confidence the model's probability of that label.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")

# Longer posts are cut: sentiment of a social post is carried by its first few hundred
# characters, and the cut bounds the cost of a pathological (megabyte) input.
MAX_CHARS = 1000

_URL_RE = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION_RE = re.compile(r"(?<!\w)@\w+(?:@[\w.-]+)?")
_HTML_ENTITY = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'"}
_ENTITY_RE = re.compile("|".join(map(re.escape, _HTML_ENTITY)))
_ELONGATED_RE = re.compile(r"(\w)\1{2,}")
_EMOTICON_POS = r"(?::|;|=)-?(?:\)|D|P|p|\])|<3|\^_\^|\(:"
_EMOTICON_NEG = r"(?::|=)'?-?(?:\(|\[|/|\\|\|)|D:|</3|>:\("
_TOKEN_RE = re.compile(
    rf"(?P<epos>{_EMOTICON_POS})|(?P<eneg>{_EMOTICON_NEG})"
    r"|(?P<word>[#]?[^\W_]+(?:['’][^\W_]+)*)"
    r"|(?P<punct>[!?]+|[.,;:]+)"
    r"|(?P<sym>[^\w\s])",
)
_NEGATORS = frozenset(
    [
        "not",
        "no",
        "never",
        "nothing",
        "nobody",
        "none",
        "nor",
        "neither",
        "nowhere",
        "cannot",
        "cant",
        "without",
        "hardly",
        "dont",
        "didnt",
        "doesnt",
        "isnt",
        "wasnt",
        "arent",
        "werent",
        "wont",
        "wouldnt",
        "couldnt",
        "shouldnt",
        "havent",
        "hasnt",
        "hadnt",
        "aint",
    ]
)
_CLAUSE_END = frozenset(".,;:!?")
_NEG_MARK = "¬"


def normalise(text: str) -> str:
    """Lower-case, decode HTML entities, mask links and handles, squeeze elongations."""
    text = text[:MAX_CHARS]
    text = _ENTITY_RE.sub(lambda m: _HTML_ENTITY[m.group(0)], text)
    text = _URL_RE.sub(" http ", text)
    text = _MENTION_RE.sub(" @user ", text)
    text = text.lower().replace("’", "'")
    # "soooo goood" → "soo good"-ish: keep two, so the elongation itself stays visible.
    return _ELONGATED_RE.sub(r"\1\1", text)


@dataclass(frozen=True)
class Tokens:
    """A post split for featurisation."""

    words: list[str]  # every token, negation-marked where it lies in a negation's scope
    plain: list[str]  # the same tokens unmarked (bigrams use these)
    pos_emo: int  # positive emoticons and emoji
    neg_emo: int  # negative emoticons and emoji
    markup: bool  # an @handle, a link or a ``#`` (see :func:`has_markup`)


def tokenise(text: str, emoji_valence: dict[str, float] | None = None) -> Tokens:
    """Split a post into tokens, marking negation scope; count emoticons and emoji."""
    words: list[str] = []
    plain: list[str] = []
    pos_emo = neg_emo = 0
    negated = False
    norm = normalise(text)
    for m in _TOKEN_RE.finditer(norm):
        kind = m.lastgroup
        tok = m.group(0)
        if kind == "epos":
            pos_emo += 1
            tok = ":)"
        elif kind == "eneg":
            neg_emo += 1
            tok = ":("
        elif kind == "punct":
            tok = tok[:2] if tok[0] in "!?" else tok[0]
            if tok[0] in _CLAUSE_END:
                negated = False
        elif kind == "sym":
            if emoji_valence is not None:
                val = emoji_valence.get(tok)
                if val is not None:
                    if val > 0:
                        pos_emo += 1
                    elif val < 0:
                        neg_emo += 1
            if unicodedata.category(tok)[0] != "S":
                continue  # stray punctuation such as quotes and brackets carries nothing
        plain.append(tok)
        words.append(_NEG_MARK + tok if negated and kind == "word" else tok)
        if kind == "word" and (tok in _NEGATORS or tok.endswith("n't")):
            negated = True
    return Tokens(words, plain, pos_emo, neg_emo, _markup_in(norm))


def feature_strings(tokens: Tokens) -> list[str]:
    """The sparse (binary) feature names of one tokenised post, before vocabulary lookup."""
    feats = ["u:" + w for w in tokens.words]
    plain = tokens.plain
    feats.extend("b:" + a + " " + b for a, b in itertools.pairwise(plain))
    if not plain:
        feats.append("x:empty")
    return feats


# Dense features appended after the vocabulary; order fixed (the model's weights follow it).
DENSE_FEATURES: tuple[str, ...] = (
    "lex_pos",  # sum of positive valences (negated negatives count here), squashed
    "lex_neg",  # sum of |negative valences| (negated positives count here), squashed
    "lex_pos_any",
    "lex_neg_any",
    "emo_pos",
    "emo_neg",
    "exclaim",
    "vader_compound",  # VADER's own scores: its rules (boosters, "but", caps) on top
    "vader_pos",
    "vader_neg",
    "vader_neu",
    # Social markup (an @handle, a link or a #hashtag) and VADER's scores on such posts:
    # on tweets the raters agreed with VADER more than on review and editorial snippets,
    # and these let the model trust it more there (cross-validated in the trainer).
    "markup",
    "markup_vader_compound",
    "markup_vader_pos",
    "markup_vader_neg",
    "markup_vader_strong_pos",  # compound >= 0.6
    "markup_vader_strong_neg",  # compound <= -0.6
)
# The VADER scores lie in [-1, 1]; scaled up they are regularised less than the thousands
# of sparse features, which the validation split preferred (see the trainer).
_VADER_SCALE = 4.0
_MARKUP_SCALE = 2.0
_STRONG = 0.6


def has_markup(text: str) -> bool:
    """Whether a post carries social markup: an @handle, a link or a ``#``."""
    return _markup_in(normalise(text))


def _markup_in(norm: str) -> bool:
    # On normalised text, where links and handles are already masked; tokenise asks it
    # of the text it normalised, so a post is normalised once.
    return "@user" in norm or " http " in norm or "#" in norm


def markup_features(markup: bool, vader: dict[str, float] | None) -> list[float]:
    """The markup columns of ``DENSE_FEATURES``: zero on posts without markup."""
    if not markup:
        return [0.0] * 6
    comp, pos, neg = (vader["compound"], vader["pos"], vader["neg"]) if vader else (0, 0, 0)
    out = [1.0, comp, pos, neg, float(comp >= _STRONG), float(comp <= -_STRONG)]
    return [_MARKUP_SCALE * v for v in out]


def lexicon_features(tokens: Tokens, lexicon: dict[str, float]) -> list[float]:
    """Lexicon, emoji and punctuation evidence, squashed so no single post dominates."""
    pos = neg = 0.0
    for w in tokens.words:
        negated = w.startswith(_NEG_MARK)
        val = lexicon.get(w[1:] if negated else w)
        if val is None:
            continue
        if negated:
            # VADER's finding: a negated word keeps about three quarters of its strength,
            # with the opposite sign.
            val = -0.74 * val
        if val > 0:
            pos += val
        else:
            neg -= val
    exclaim = sum(1 for w in tokens.plain if w.startswith("!"))
    return [
        math.tanh(pos / 4.0),
        math.tanh(neg / 4.0),
        1.0 if pos > 0 else 0.0,
        1.0 if neg > 0 else 0.0,
        math.tanh(tokens.pos_emo),
        math.tanh(tokens.neg_emo),
        math.tanh(exclaim),
    ]


class Featuriser:
    """Turns a post into (sparse feature names, dense vector); shared by trainer and model."""

    def __init__(self, lexicon: dict[str, float], emoji_valence: dict[str, float]) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.lexicon = lexicon
        self.emoji_valence = emoji_valence
        self.vader = SentimentIntensityAnalyzer()

    def features(self, text: str) -> tuple[list[str], list[float]]:
        text = text[:MAX_CHARS] if isinstance(text, str) else ""
        toks = tokenise(text, self.emoji_valence)
        dense = lexicon_features(toks, self.lexicon)
        try:
            v = self.vader.polarity_scores(text)
            dense.extend(_VADER_SCALE * v[k] for k in ("compound", "pos", "neg", "neu"))
        except Exception:  # VADER is third-party code: odd input must not stop a batch
            v = None
            dense.extend((0.0, 0.0, 0.0, 0.0))
        dense.extend(markup_features(toks.markup, v))
        return feature_strings(toks), dense


class SentimentModel:
    """Weights + vocabulary + lexicon, and the batch scorer."""

    def __init__(
        self,
        vocab: list[str],
        weights: np.ndarray,
        bias: np.ndarray,
        lexicon: dict[str, float],
        emoji_valence: dict[str, float],
        meta: dict | None = None,
    ) -> None:
        n_dense = len(DENSE_FEATURES)
        if weights.shape != (len(vocab) + n_dense, len(LABELS)):
            raise ValueError(f"weights shape {weights.shape} does not fit the vocabulary")
        self.index = {f: i for i, f in enumerate(vocab)}
        self.weights = weights.astype(np.float32)
        self.sparse_weights = self.weights[: len(vocab)]
        self.dense_weights = self.weights[len(vocab) :]
        self.bias = bias.astype(np.float32)
        self.lexicon = lexicon
        self.emoji_valence = emoji_valence
        self.featuriser = Featuriser(lexicon, emoji_valence)
        self.meta = meta or {}

    @classmethod
    def load(cls, path: str | Path) -> SentimentModel:
        """Read a model file written by ``save`` (the trainer)."""
        with np.load(path, allow_pickle=False) as z:
            vocab = str(z["vocab"]).split("\n") if z["vocab"].size else []
            lex_words = str(z["lex_words"]).split("\n")
            emoji_chars = str(z["emoji_chars"]).split("\n")
            return cls(
                vocab,
                z["weights"],
                z["bias"],
                dict(zip(lex_words, z["lex_vals"].astype(float).tolist(), strict=True)),
                dict(zip(emoji_chars, z["emoji_vals"].astype(float).tolist(), strict=True)),
                json.loads(str(z["meta"])),
            )

    def save(self, path: str | Path) -> None:
        """Write the model compactly (float16 weights, newline-joined strings)."""
        vocab = [""] * len(self.index)
        for f, i in self.index.items():
            vocab[i] = f
        lex = sorted(self.lexicon.items())
        emo = sorted(self.emoji_valence.items())
        np.savez_compressed(
            path,
            vocab=np.array("\n".join(vocab)),
            weights=self.weights.astype(np.float16),
            bias=self.bias,
            lex_words=np.array("\n".join(w for w, _ in lex)),
            lex_vals=np.array([v for _, v in lex], dtype=np.float16),
            emoji_chars=np.array("\n".join(c for c, _ in emo)),
            emoji_vals=np.array([v for _, v in emo], dtype=np.float16),
            meta=np.array(json.dumps(self.meta, sort_keys=True)),
        )

    def probabilities(self, texts: Iterable[str]) -> np.ndarray:
        """Class probabilities, one row per text, columns in ``LABELS`` order."""
        texts = list(texts)
        index = self.index
        n = len(texts)
        n_dense = len(DENSE_FEATURES)
        dense = np.zeros((n, n_dense), dtype=np.float32)
        flat: list[int] = []
        offsets = np.zeros(n + 1, dtype=np.int64)
        for row, text in enumerate(texts):
            names, dense[row] = self.featuriser.features(text)
            # Binary features: each counted once per post, as in training.
            flat.extend({index[f] for f in names if f in index})
            offsets[row + 1] = len(flat)
        # Elementwise rather than a BLAS matmul: a row's result must not depend on the
        # batch it came in (batch = single, bit for bit).
        logits = (dense[:, :, None] * self.dense_weights[None, :, :]).sum(axis=1) + self.bias
        if flat:
            ids = np.asarray(flat, dtype=np.int64)
            rows = np.repeat(np.arange(n), np.diff(offsets))
            np.add.at(logits, rows, self.sparse_weights[ids])
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def score_batch(self, texts: list[str]) -> list[tuple[str, float]]:
        """Label and confidence for each text, in order."""
        if not texts:
            return []
        probs = self.probabilities(texts)
        best = probs.argmax(axis=1)
        return [
            (LABELS[k], round(float(p[k]), 4)) for k, p in zip(best.tolist(), probs, strict=True)
        ]


_model: SentimentModel | None = None
_lock = threading.Lock()


def model_path() -> Path:
    """Where the shipped model file lies inside the installed package."""
    return Path(str(resources.files("kith.listening") / "models_data" / "sentiment.npz"))


def get_model() -> SentimentModel:
    """The shipped model, loaded once per process (thread-safe)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = SentimentModel.load(model_path())
    return _model


def score_batch(texts: list[str]) -> list[tuple[str, float]]:
    """Sentiment of each text: ``(label, confidence)`` with label in ``LABELS``.

    Never raises on odd input: empty, emoji-only, non-English or huge texts get a label
    (usually "neutral" when nothing in them is known to the model).
    """
    return get_model().score_batch(texts)


def score(text: str) -> tuple[str, float]:
    """Sentiment of one text; the same answer ``score_batch`` gives it in any batch."""
    return score_batch([text])[0]
