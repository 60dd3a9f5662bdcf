"""Sentiment model benchmark: held-out accuracy and macro-F1 beside VADER, and texts/s.

    .venv/bin/python benchmarks/sentiment.py [--repeat 5] [--processes 2]

Reads the held-out split the trainer wrote (``benchmarks/data/sentiment_heldout.tsv``:
rated texts never used for training or for any choice; see scripts/train_sentiment.py)
and the customer-service held-out set (``benchmarks/data/sentiment_cs_heldout.tsv``: short
brand and customer-service posts written for this benchmark by someone who wrote none of
the training texts, never trained on),
scores it with the shipped model (``kith.listening.sentiment.score_batch``) and with
VADER (compound ≥ 0.05 positive, ≤ -0.05 negative, else neutral, VADER's own cut-offs),
and prints accuracy and macro-F1 overall, per source and for the in-domain sources (tweets,
product and service reviews). The UCI sources are two-class (no neutral rows), so their
own macro-F1 averages in a neutral F1 of 0 and reads low; their accuracy is meaningful.
Then the throughput: the held-out texts repeated ``--repeat`` times, scored in batches of
500 by one process, and by ``--processes`` processes at once (the 2 cores of the target
machine).
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from kith.listening import sentiment  # noqa: E402

HELDOUT = ROOT / "benchmarks" / "data" / "sentiment_heldout.tsv"
# Short customer-service posts written for this benchmark by someone who wrote no training
# text; the trainer drops any supplement row equal to one of them.
CS_HELDOUT = ROOT / "benchmarks" / "data" / "sentiment_cs_heldout.tsv"
LABELS = sentiment.LABELS
BATCH = 500


def load() -> tuple[list[str], np.ndarray, np.ndarray]:
    with HELDOUT.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    texts = [r["text"] for r in rows]
    y = np.array([LABELS.index(r["label"]) for r in rows])
    sources = np.array([r["source"] for r in rows])
    return texts, y, sources


def load_cs() -> tuple[list[str], np.ndarray]:
    rows = [
        line.rstrip("\n").split("\t", 1)
        for line in CS_HELDOUT.open(encoding="utf-8")
        if line.strip() and not line.startswith("#")
    ][1:]  # the header
    return [t for _, t in rows], np.array([LABELS.index(lab) for lab, _ in rows])


def metrics(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Accuracy and macro-F1 (the mean of the three classes' F1)."""
    f1s = []
    for k in range(len(LABELS)):
        tp = np.sum((p == k) & (y == k))
        fp = np.sum((p == k) & (y != k))
        fn = np.sum((p != k) & (y == k))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(p == y)), float(np.mean(f1s))


def vader(texts: list[str]) -> np.ndarray:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    out = []
    for t in texts:
        c = sia.polarity_scores(t)["compound"]
        out.append(2 if c >= 0.05 else (0 if c <= -0.05 else 1))
    return np.array(out)


def _score_all(texts: list[str]) -> int:
    sentiment.get_model()  # load before the clock starts in each process
    for i in range(0, len(texts), BATCH):
        sentiment.score_batch(texts[i : i + BATCH])
    return len(texts)


def _worker(args: tuple[list[str], mp.synchronize.Barrier]) -> float:
    texts, barrier = args
    sentiment.get_model()
    barrier.wait()
    t0 = time.perf_counter()
    _score_all(texts)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()

    t0 = time.perf_counter()
    sentiment.get_model()
    print(
        f"model load {time.perf_counter() - t0:.2f} s ({sentiment.model_path().stat().st_size / 1e6:.2f} MB)"
    )
    texts, y, sources = load()
    pred = np.array([LABELS.index(lab) for lab, _ in sentiment.score_batch(texts)])
    vpred = vader(texts)
    acc, f1 = metrics(y, pred)
    vacc, vf1 = metrics(y, vpred)
    print(
        f"held-out: {len(texts)} texts ({', '.join(f'{k} {int(np.sum(y == i))}' for i, k in enumerate(LABELS))})"
    )
    print(f"  {'set':16s} {'n':>5s}  model acc  macro-F1 | VADER acc  macro-F1")
    print(f"  {'all':16s} {len(y):5d}  {acc:9.3f} {f1:9.3f} | {vacc:9.3f} {vf1:9.3f}")
    groups = {s: sources == s for s in dict.fromkeys(sources.tolist())}
    groups["tweets+amazon"] = np.isin(sources, ["tweets", "amazon"])
    # Short brand, product and service posts: the registers the model is for (the
    # trainer's IN_DOMAIN sources, less its training-only supplement).
    groups["in-domain"] = np.isin(sources, ["tweets", "amazon", "uci_amazon", "uci_yelp"])
    # The four VADER ground-truth sources alone, comparable with models trained before the
    # UCI sentences were added.
    groups["vader-4"] = np.isin(sources, ["tweets", "amazon", "movies", "nyt"])
    for name, m in groups.items():
        a, f = metrics(y[m], pred[m])
        va, vf = metrics(y[m], vpred[m])
        print(f"  {name:16s} {int(m.sum()):5d}  {a:9.3f} {f:9.3f} | {va:9.3f} {vf:9.3f}")

    cs_texts, cs_y = load_cs()
    a, f = metrics(
        cs_y, np.array([LABELS.index(lab) for lab, _ in sentiment.score_batch(cs_texts)])
    )
    va, vf = metrics(cs_y, vader(cs_texts))
    print(
        f"customer-service held-out: {len(cs_texts)} texts "
        f"({', '.join(f'{k} {int(np.sum(cs_y == i))}' for i, k in enumerate(LABELS))})"
    )
    print(f"  {'customer-service':16s} {len(cs_y):5d}  {a:9.3f} {f:9.3f} | {va:9.3f} {vf:9.3f}")

    work = texts * args.repeat
    t0 = time.perf_counter()
    _score_all(work)
    single = len(work) / (time.perf_counter() - t0)
    print(
        f"throughput, 1 process: {single:,.0f} texts/s ({len(work)} texts, mean {np.mean([len(t) for t in texts]):.0f} chars, batches of {BATCH})"
    )
    n = args.processes
    if n > 1:
        ctx = mp.get_context("fork")
        barrier = ctx.Manager().Barrier(n)
        chunks = [(work[i::n], barrier) for i in range(n)]
        with ctx.Pool(n) as pool:
            times = pool.map(_worker, chunks)
        print(f"throughput, {n} processes: {len(work) / max(times):,.0f} texts/s")


if __name__ == "__main__":
    main()
