"""Customer lifetime value: BG/NBD for purchase frequency, Gamma-Gamma for spend.

Pure numbers (no Django): the service turns transactions into per-customer purchase
lists, this module turns those into RFM, fits the two models with ``lifetimes`` (maximum
likelihood), checks them on a holdout and predicts P(alive), expected purchases and CLV.

Why lifetimes rather than pymc-marketing (its maintained successor), measured here with
``pip download`` into /tmp on Python 3.11: pymc-marketing 1.x needs Python >= 3.12; its last
3.11 release, 0.19.2, brings 57 wheels, 172 MB (pymc, pytensor with a C compiler at run
time, numba and llvmlite 58 MB, arviz, matplotlib, h5py). lifetimes 0.11.3 with autograd and
dill is 0.76 MB of wheels over numpy/scipy/pandas we already have, and fits BG/NBD on 5,000
customers in about 3 s. Its last release is from 2020, so everything it is used for here is
behind this module's small interface (and the tests pin its behaviour): replacing it is a
change to this file only.

Conventions (those of Fader, Hardie & Lee 2005 and of lifetimes):

* time is in weeks; purchases on the same day count as one;
* ``frequency`` = repeat purchases (purchase days after the first), ``recency`` = weeks
  from the first to the last purchase, ``T`` = weeks from the first purchase to "now";
* ``monetary`` = the average value of the repeat purchases (Gamma-Gamma is fitted on
  customers with at least one repeat purchase only; for the others it predicts the
  population mean).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger("kith.insights.clv")

WEEK_DAYS = 7.0
# Calibration frequency buckets for the holdout check: 0, 1, …, 6 and "7+".
BUCKETS = 7
# Below these the fit has nothing to learn from: say so rather than print noise.
MIN_CUSTOMERS = 20
MIN_REPEAT_BUYERS = 5


class NotEnoughData(ValueError):
    """Too few customers (or repeat buyers) to fit the models."""


@dataclass
class RFM:
    """Per-customer summary arrays, aligned with ``keys``."""

    keys: list
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary: np.ndarray  # average repeat purchase value (0 when no repeat purchase)
    total: np.ndarray  # everything spent, first purchase included
    purchases: np.ndarray  # purchase days, first included

    def __len__(self) -> int:
        return len(self.keys)


def rfm(purchases: Mapping[object, Sequence[tuple[float, float]]], *, now_days: float) -> RFM:
    """RFM from ``{customer: [(day, amount), …]}`` (days as floats, any origin).

    Purchases on or after ``now_days`` are ignored; a customer without purchases before
    it is left out. Amounts of one day are added up (one purchase).
    """
    keys, freq, rec, age, mon, tot, cnt = [], [], [], [], [], [], []
    for key, rows in purchases.items():
        days: dict[int, float] = {}
        for day, amount in rows:
            if day < now_days:
                d = math.floor(day)
                days[d] = days.get(d, 0.0) + float(amount)
        if not days:
            continue
        ordered = sorted(days)
        first, last = ordered[0], ordered[-1]
        repeat = [days[d] for d in ordered[1:]]
        keys.append(key)
        freq.append(len(repeat))
        rec.append((last - first) / WEEK_DAYS)
        age.append(max(now_days - first, 1.0) / WEEK_DAYS)
        mon.append(sum(repeat) / len(repeat) if repeat else 0.0)
        tot.append(sum(days.values()))
        cnt.append(len(ordered))
    return RFM(
        keys,
        np.asarray(freq, dtype=float),
        np.asarray(rec, dtype=float),
        np.asarray(age, dtype=float),
        np.asarray(mon, dtype=float),
        np.asarray(tot, dtype=float),
        np.asarray(cnt, dtype=int),
    )


@dataclass
class Fitted:
    """The two fitted models and their parameters."""

    bgf: object
    ggf: object | None
    params: dict[str, float] = field(default_factory=dict)


def fit(data: RFM, *, penalizer: float = 0.0) -> Fitted:
    """Fit BG/NBD on everyone and Gamma-Gamma on the repeat buyers.

    Raises ``NotEnoughData`` below ``MIN_CUSTOMERS`` customers or ``MIN_REPEAT_BUYERS``
    repeat buyers. A fit that does not converge is retried with small penalizers (as
    lifetimes advises for real data) before giving up.
    """
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    if len(data) < MIN_CUSTOMERS:
        raise NotEnoughData(f"{len(data)} customers; at least {MIN_CUSTOMERS} are needed.")
    repeat = (data.frequency > 0) & (data.monetary > 0)
    if int(repeat.sum()) < MIN_REPEAT_BUYERS:
        raise NotEnoughData(
            f"{int(repeat.sum())} repeat buyers; at least {MIN_REPEAT_BUYERS} are needed."
        )
    last_error: Exception | None = None
    # lifetimes advises a penalizer between 0.001 and 0.1 for real data; a small sample
    # may need the larger ones (40 customers failed Gamma-Gamma at 0.001, fitted at 0.01).
    for pen in dict.fromkeys((penalizer, max(penalizer, 1e-3), max(penalizer, 1e-2))):
        try:
            with _quiet():
                bgf = BetaGeoFitter(penalizer_coef=pen)
                bgf.fit(data.frequency, data.recency, data.T)
                ggf = GammaGammaFitter(penalizer_coef=pen)
                ggf.fit(data.frequency[repeat], data.monetary[repeat])
            params = {k: float(v) for k, v in bgf.params_.items()}
            params.update({k: float(v) for k, v in ggf.params_.items()})
            if all(math.isfinite(v) for v in params.values()):
                params["penalizer"] = pen
                return Fitted(bgf, ggf, params)
        except Exception as exc:  # lifetimes raises ConvergenceError and friends
            last_error = exc
    raise NotEnoughData(f"The models did not converge on these data ({last_error}).")


@dataclass
class Predictions:
    p_alive: np.ndarray
    expected_purchases: np.ndarray
    clv: np.ndarray


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep lifetimes' noise out of the terminal and the worker's log.

    The optimiser probes impossible parameters on its way (log/sqrt of negatives): those
    RuntimeWarnings are its business, the finite checks here are ours. And lifetimes
    *prints* the optimiser's whole result when a fit does not converge (before raising,
    which ``fit`` answers by retrying): that goes to the debug log instead of stdout.
    """
    printed = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(printed):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
    if printed.getvalue():
        logger.debug("lifetimes: %s", printed.getvalue().strip())


def predict(
    model: Fitted,
    data: RFM,
    *,
    horizon_months: int,
    yearly_discount: float,
    margin: float,
) -> Predictions:
    """P(alive), purchases expected over the horizon, and CLV (margin × discounted spend).

    CLV follows lifetimes' ``customer_lifetime_value``: expected purchases month by month
    over ``horizon_months``, each month's spend (Gamma-Gamma's conditional expected
    average) discounted at the monthly rate equivalent to ``yearly_discount``.
    """
    import pandas as pd

    if not len(data):
        empty = np.zeros(0)
        return Predictions(empty, empty, empty)
    f, r, t = data.frequency, data.recency, data.T
    weeks = horizon_months * 4.345
    monthly = (1.0 + yearly_discount) ** (1.0 / 12.0) - 1.0
    with _quiet():
        p_alive = np.asarray(model.bgf.conditional_probability_alive(f, r, t), dtype=float)
        expected = np.asarray(
            model.bgf.conditional_expected_number_of_purchases_up_to_time(weeks, f, r, t),
            dtype=float,
        )
        clv = model.ggf.customer_lifetime_value(
            model.bgf,
            pd.Series(f),
            pd.Series(r),
            pd.Series(t),
            pd.Series(np.where(f > 0, data.monetary, 0.0)),
            time=horizon_months,
            discount_rate=monthly,
            freq="W",
        )
    p_alive, expected = np.nan_to_num(p_alive, nan=0.0), np.nan_to_num(expected, nan=0.0)
    clv = np.nan_to_num(np.asarray(clv, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    return Predictions(
        np.clip(p_alive, 0.0, 1.0),
        np.maximum(expected, 0.0),
        np.maximum(np.asarray(clv, dtype=float) * margin, 0.0),
    )


def bucket_label(frequency: int) -> str:
    return f"{BUCKETS}+" if frequency >= BUCKETS else str(frequency)


def holdout_check(
    purchases: Mapping[object, Sequence[tuple[float, float]]],
    *,
    now_days: float,
    holdout_days: float,
) -> dict:
    """Fit on the purchases before ``now - holdout`` and compare with the holdout.

    Answers ``{"buckets": [{"frequency", "customers", "predicted", "actual"}, …],
    "customers", "predicted_total", "actual_total", "mae", "correlation", "params"}``:
    per calibration-frequency bucket the mean purchases predicted for the holdout beside
    the mean actually made (the check of Fader, Hardie & Lee's figure 4). Raises
    ``NotEnoughData`` when the calibration period is too thin to fit.
    """
    cutoff = now_days - holdout_days
    cal = rfm(purchases, now_days=cutoff)
    model = fit(cal)
    weeks = holdout_days / WEEK_DAYS
    with _quiet():
        raw = model.bgf.conditional_expected_number_of_purchases_up_to_time(
            weeks, cal.frequency, cal.recency, cal.T
        )
    predicted = np.nan_to_num(
        np.asarray(raw, dtype=float),
        nan=0.0,
        posinf=0.0,
        neginf=0.0,
    )
    actual = np.zeros(len(cal))
    for i, key in enumerate(cal.keys):
        days = {math.floor(d) for d, _ in purchases[key] if cutoff <= d < now_days}
        actual[i] = len(days)
    buckets = []
    labels = np.minimum(cal.frequency.astype(int), BUCKETS)
    for b in range(BUCKETS + 1):
        mask = labels == b
        if mask.any():
            buckets.append(
                {
                    "frequency": bucket_label(b),
                    "customers": int(mask.sum()),
                    "predicted": round(float(predicted[mask].mean()), 4),
                    "actual": round(float(actual[mask].mean()), 4),
                }
            )
    corr = (
        float(np.corrcoef(predicted, actual)[0, 1])
        if len(cal) > 2 and predicted.std() > 0 and actual.std() > 0
        else 0.0
    )
    corr = corr if math.isfinite(corr) else 0.0
    return {
        "holdout_days": holdout_days,
        "customers": len(cal),
        "buckets": buckets,
        "predicted_total": round(float(predicted.sum()), 2),
        "actual_total": round(float(actual.sum()), 2),
        "mae": round(float(np.abs(predicted - actual).mean()), 4),
        "correlation": round(corr, 4),
        "params": model.params,
    }


def simulate(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p: float,
    q: float,
    v: float,
    weeks: float,
    rng: np.random.Generator,
    stagger_weeks: float = 0.0,
) -> dict[int, list[tuple[float, float]]]:
    """Purchases drawn from BG/NBD (r, alpha, a, b) and Gamma-Gamma (p, q, v).

    Each customer makes a first purchase at a time uniform in ``[0, stagger_weeks]``,
    then buys at a Poisson rate λ ~ Gamma(r, rate alpha) per week and, after each
    purchase, drops out with probability π ~ Beta(a, b); every purchase's value is
    Gamma(p, rate ν) with ν ~ Gamma(q, rate v). Answers ``{customer: [(day, amount)]}``,
    days from 0 to ``weeks × 7``; purchases drawn at least a day apart from the previous.
    """
    out: dict[int, list[tuple[float, float]]] = {}
    end = weeks * WEEK_DAYS
    for c in range(n):
        lam = rng.gamma(r, 1.0 / alpha)
        drop = rng.beta(a, b)
        nu = rng.gamma(q, 1.0 / v)
        t = rng.uniform(0.0, stagger_weeks) * WEEK_DAYS if stagger_weeks else 0.0
        rows = [(t, float(rng.gamma(p, 1.0 / nu)))]
        while True:
            t += rng.exponential(1.0 / lam) * WEEK_DAYS if lam > 0 else end
            if t >= end:
                break
            rows.append((t, float(rng.gamma(p, 1.0 / nu))))
            if rng.random() < drop:
                break
        out[c] = rows
    return out


ProgressFn = Callable[[int, str], None]
