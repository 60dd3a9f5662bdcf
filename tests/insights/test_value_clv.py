"""CLV mathematics (no database): BG/NBD + Gamma-Gamma recover the parameters that drew
the data, the holdout check compares like with like, and thin data is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from kith.insights import clv

# Fader, Hardie & Lee's CDNOW estimates for BG/NBD (weeks) and Gamma-Gamma: realistic
# values to draw from (the CDNOW data themselves are not used anywhere here).
TRUE = {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43, "p": 6.25, "q": 3.74, "v": 15.44}
WEEKS = 78


@pytest.fixture(scope="module")
def drawn():
    rng = np.random.default_rng(7)
    purchases = clv.simulate(5000, weeks=WEEKS, rng=rng, stagger_weeks=12, **TRUE)
    data = clv.rfm(purchases, now_days=WEEKS * 7)
    return purchases, data, clv.fit(data)


def _rel(found: float, true: float) -> float:
    return abs(found - true) / true


def test_bg_nbd_recovers_the_parameters_it_was_drawn_from(drawn):
    _, _, model = drawn
    # 5,000 customers: each parameter within 15 %, the mean purchase rate r/alpha within 8 %.
    for name in ("r", "alpha", "a", "b"):
        assert _rel(model.params[name], TRUE[name]) < 0.15, (name, model.params[name])
    rate = model.params["r"] / model.params["alpha"]
    assert _rel(rate, TRUE["r"] / TRUE["alpha"]) < 0.08


def test_gamma_gamma_recovers_the_mean_spend_and_its_parameters(drawn):
    _, _, model = drawn
    # p, q and v trade off against each other (a flat ridge of the likelihood): each
    # within 25 %, and the population mean spend p·v/(q − 1) they imply within 5 %.
    for name in ("p", "q", "v"):
        assert _rel(model.params[name], TRUE[name]) < 0.25, (name, model.params[name])
    mean = model.params["p"] * model.params["v"] / (model.params["q"] - 1)
    assert _rel(mean, TRUE["p"] * TRUE["v"] / (TRUE["q"] - 1)) < 0.05


def test_predictions_are_sane(drawn):
    _, data, model = drawn
    pred = clv.predict(model, data, horizon_months=12, yearly_discount=0.1, margin=0.3)
    assert ((pred.p_alive >= 0) & (pred.p_alive <= 1)).all()
    assert (pred.clv >= 0).all() and (pred.expected_purchases >= 0).all()
    # Someone who has not bought for long is less likely alive than a recent buyer with
    # the same history; a customer who never came back has P(alive) 1 by BG/NBD's design.
    f = np.array([5.0, 5.0, 0.0])
    r = np.array([60.0, 10.0, 0.0])
    t = np.array([62.0, 62.0, 62.0])
    alive = model.bgf.conditional_probability_alive(f, r, t)
    assert alive[0] > alive[1] and alive[2] == pytest.approx(1.0)
    # Discounting lowers the value; a longer horizon raises it.
    low = clv.predict(model, data, horizon_months=12, yearly_discount=0.5, margin=0.3).clv.sum()
    longer = clv.predict(model, data, horizon_months=24, yearly_discount=0.1, margin=0.3).clv
    assert low < pred.clv.sum() < longer.sum()


def test_holdout_check_predicts_each_frequency_bucket(drawn):
    purchases, _, _ = drawn
    check = clv.holdout_check(purchases, now_days=WEEKS * 7, holdout_days=26 * 7)
    assert [b["frequency"] for b in check["buckets"]][:2] == ["0", "1"]
    assert check["buckets"][-1]["frequency"] == "7+"
    assert sum(b["customers"] for b in check["buckets"]) == check["customers"]
    # Drawn from the model itself, so predicted and actual agree: totals within 10 %,
    # every bucket of 100+ customers within 20 %.
    assert _rel(check["predicted_total"], check["actual_total"]) < 0.10
    for b in check["buckets"]:
        if b["customers"] >= 100:
            assert _rel(b["predicted"], b["actual"]) < 0.20, b
    assert check["correlation"] > 0.5


def test_rfm_counts_a_day_once_and_ignores_the_future():
    purchases = {
        "a": [(0.2, 10.0), (0.7, 5.0), (14.0, 20.0), (28.0, 40.0)],  # two on day 0
        "b": [(100.0, 10.0)],  # after "now": not a customer yet
        "c": [(7.0, 8.0)],
    }
    data = clv.rfm(purchases, now_days=35.0)
    assert data.keys == ["a", "c"]
    assert list(data.frequency) == [2, 0]
    assert data.recency[0] == pytest.approx(4.0)  # day 0 to day 28
    assert data.T[0] == pytest.approx(5.0)
    assert data.monetary[0] == pytest.approx(30.0)  # repeat purchases only
    assert data.total[0] == pytest.approx(75.0)
    assert data.monetary[1] == 0.0


def test_too_little_data_is_a_clear_error():
    with pytest.raises(clv.NotEnoughData, match="customers"):
        clv.fit(clv.rfm({}, now_days=10.0))
    one_timers = {i: [(1.0, 10.0)] for i in range(50)}
    with pytest.raises(clv.NotEnoughData, match="repeat buyers"):
        clv.fit(clv.rfm(one_timers, now_days=100.0))
    with pytest.raises(clv.NotEnoughData):
        clv.holdout_check(one_timers, now_days=100.0, holdout_days=30.0)


def test_lifetimes_output_goes_to_the_debug_log_not_the_terminal(capsys, caplog):
    """lifetimes prints the optimiser's result on a failed fit (the demo's output was
    full of them) and the optimiser warns on probed parameters: neither reaches stdout."""
    import logging
    import warnings

    with caplog.at_level(logging.DEBUG, logger="kith.insights.clv"), warnings.catch_warnings():
        warnings.simplefilter("error")  # a leaked warning would raise here
        with clv._quiet():
            print("  message: Desired error not necessarily achieved")
            warnings.warn("invalid value encountered in log", RuntimeWarning, stacklevel=1)
    assert capsys.readouterr().out == ""
    assert any("Desired error" in r.getMessage() for r in caplog.records)


def test_a_small_sample_that_fails_at_the_smallest_penalizer_is_fitted_with_a_larger_one(
    monkeypatch,
):
    """40 simulated customers whose Gamma-Gamma fit does not converge at penalizer
    0.001 are fitted at 0.01 instead of being reported as "not enough data".

    Whether this sample converges at 0.001 depends on the machine's floating-point path
    (it failed on one CPU and converged on another), so the non-convergence is made
    certain here: lifetimes' Gamma-Gamma fit raises its ConvergenceError below 0.01."""
    from lifetimes import GammaGammaFitter
    from lifetimes.utils import ConvergenceError

    real_fit = GammaGammaFitter.fit
    tried: list[float] = []

    def fit_that_fails_below_001(self, *args, **kwargs):
        tried.append(self.penalizer_coef)
        if self.penalizer_coef < 0.01:
            raise ConvergenceError("did not converge")
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(GammaGammaFitter, "fit", fit_that_fails_below_001)
    weeks = 60
    drawn = clv.simulate(
        40, r=0.8, alpha=4.0, a=0.5, b=4.0, p=6.0, q=4.0, v=15.0, weeks=weeks,
        rng=np.random.default_rng(5), stagger_weeks=20,
    )  # fmt: skip
    now = 20000 + 17 / 24
    purchases = {
        i: [(now - (weeks * 7 - day + 0.5), amount) for day, amount in drawn[i]] for i in range(40)
    }
    fitted = clv.fit(clv.rfm(purchases, now_days=now))
    assert tried == [0.0, 0.001, 0.01]
    assert fitted.params["penalizer"] == 0.01
    assert all(np.isfinite(v) for v in fitted.params.values())
