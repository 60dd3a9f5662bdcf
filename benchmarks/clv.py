"""Customer lifetime value: fit time, parameter recovery and the holdout check.

    .venv/bin/python benchmarks/clv.py                        # 5,000 drawn customers
    .venv/bin/python benchmarks/clv.py --customers 20000
    .venv/bin/python benchmarks/clv.py --csv transactions.csv --end 2011-12-09 --holdout-days 90

Without ``--csv``: customers drawn from known BG/NBD + Gamma-Gamma parameters (the
CDNOW estimates of Fader, Hardie & Lee as values only, not their data); prints the
fitted parameters beside the true ones, the seconds to fit, and the holdout table
(predicted vs actual purchases per calibration-frequency bucket).

With ``--csv``: a real transaction log with columns ``customer,date,amount`` (ISO dates;
extra columns ignored; negative amounts dropped), e.g. the UCI Online Retail set reduced
to invoices (group by InvoiceNo: CustomerID, InvoiceDate, sum of Quantity x UnitPrice).
The same holdout check as the worker runs (``kith.insights.clv.holdout_check``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from kith.insights import clv

TRUE = {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43, "p": 6.25, "q": 3.74, "v": 15.44}
EPOCH = dt.date(2000, 1, 1)


def _table(check: dict) -> None:
    print(f"  holdout {check['holdout_days']:g} days, {check['customers']} customers")
    print(f"  {'repeat purchases':>18} {'customers':>10} {'predicted':>10} {'actual':>10}")
    for b in check["buckets"]:
        print(
            f"  {b['frequency']:>18} {b['customers']:>10} {b['predicted']:>10.3f} "
            f"{b['actual']:>10.3f}"
        )
    print(
        f"  total predicted {check['predicted_total']:.1f}, actual {check['actual_total']:.1f}; "
        f"MAE {check['mae']:.3f}/customer; correlation {check['correlation']:.3f}"
    )


def drawn(n: int) -> None:
    rng = np.random.default_rng(7)
    purchases = clv.simulate(n, weeks=78, rng=rng, stagger_weeks=12, **TRUE)
    data = clv.rfm(purchases, now_days=78 * 7)
    start = time.perf_counter()
    model = clv.fit(data)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    clv.predict(model, data, horizon_months=12, yearly_discount=0.1, margin=1.0)
    predict_s = time.perf_counter() - start
    print(
        f"drawn: {n} customers, fit {fit_s:.2f} s, predict (P(alive), 12-month CLV) {predict_s:.2f} s"
    )
    for k, true in TRUE.items():
        print(f"  {k:>5} true {true:8.3f} fitted {model.params[k]:8.3f}")
    _table(clv.holdout_check(purchases, now_days=78 * 7, holdout_days=26 * 7))


def real(path: str, end: str, holdout_days: int) -> None:
    purchases: dict[str, list[tuple[float, float]]] = defaultdict(list)
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                day = (dt.date.fromisoformat(row["date"][:10]) - EPOCH).days
                amount = float(row["amount"])
            except (KeyError, ValueError):
                continue
            if row.get("customer") and amount > 0:
                purchases[row["customer"]].append((float(day), amount))
    now_days = float((dt.date.fromisoformat(end) - EPOCH).days + 1)
    start = time.perf_counter()
    check = clv.holdout_check(purchases, now_days=now_days, holdout_days=holdout_days)
    print(f"{path}: {len(purchases)} customers, holdout check {time.perf_counter() - start:.2f} s")
    print("  fitted", {k: round(v, 4) for k, v in check["params"].items()})
    _table(check)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--csv")
    parser.add_argument("--end", help="last day of the data (ISO date)")
    parser.add_argument("--holdout-days", type=int, default=90)
    args = parser.parse_args()
    if args.csv:
        if not args.end:
            parser.error("--csv needs --end")
        real(args.csv, args.end, args.holdout_days)
    else:
        drawn(args.customers)


if __name__ == "__main__":
    main()
