"""The linkage model: Splink settings, training, prediction, clustering, explanations.

Fellegi–Sunter as Splink implements it. Each comparison below turns a pair of people
into one level per field (exact, nickname, typo, swapped, different, unknown); each
level has *m* (how often true matches land there) and *u* (how often two random people
do), and log2(m/u) is the level's match weight. Training follows Splink's own recipe:
the prior from deterministic rules, *u* by random sampling, *m* by expectation
maximisation over several blocking rules (each rule trains the fields it does not block
on). Every level also carries a prior m and u, so a field too sparse to train (phones in
a table where few have one) still counts, with a conservative weight.

This is the only module that imports Splink (and DuckDB). Import it lazily — from the
worker, the CLI or the benchmark — never on a web request: the web reads predictions the
worker stored. DuckDB runs embedded by default; to run the same model on Spark when the
people table outgrows one machine, build the rows as a Spark DataFrame and pass
``backend="spark"`` with a ``spark`` session to :func:`train` and :func:`predict`
(``pip install pyspark``; Splink's SparkAPI takes the same settings JSON).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kith.people.identity.features import BLOCKING_RULES, FIELDS, LIST_FIELDS

Progress = Callable[[int, str], None]

# Settings version: a stored model with another version is retrained, not read.
MODEL_VERSION = 1
# Below this many people there is nothing to learn from: the exact rules are used.
MIN_TRAINING_RECORDS = 50
# The prior probability that two people picked at random are one person, kept when the
# table gives no estimate (see _keep_prior_usable).
DEFAULT_PRIOR = 0.0001
# A pair agreeing on nothing but the name never scores above this.
NAME_ONLY_CAP = 0.2
NAME_FIELDS = frozenset({"given_name", "family_name"})
# Random pairs sampled to estimate u. Measured on FEBRL2 (5,000 people): 3e5 pairs give
# the same F1 as 1e6 in a third of the time; u of rare levels (same e-mail) keep priors.
U_SAMPLE_PAIRS = 5e4

_LABELS = {
    "given_name": "First name",
    "family_name": "Last name",
    "birthday": "Date of birth",
    "postcode": "Postcode",
    "street_number": "Street number",
    "street": "Street",
    "locality": "Town",
    "email": "E-mail",
    "phone": "Phone",
    "handle": "Social handle",
    "organisation": "Organisation",
    "id_number": "Customer number",
}
assert set(FIELDS) <= {*_LABELS, "postal"}  # every field the features make is compared


@dataclass
class Reason:
    """One field's part of a match: the level reached and its weight (log2 of m/u)."""

    field: str
    label: str
    level: str
    weight: float


@dataclass
class ScoredPair:
    left: str
    right: str
    probability: float
    weight: float
    reasons: list[Reason] = field(default_factory=list)


class TooLittleData(Exception):
    """The people table is too small (or too empty) to train a model on."""


def _splink():
    # Imported here so that importing this module costs nothing until it is used.
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import block_on

    return cll, cl, block_on


def _lvl(level, label: str, m: float, u: float):
    return level.configure(label_for_charts=label, m_probability=m, u_probability=u)


def comparisons() -> list[Any]:
    """The comparison of each field, strongest level first, with prior m and u."""
    cll, cl, _ = _splink()
    custom = cll.CustomLevel
    return [
        cl.CustomComparison(
            output_column_name="given_name",
            comparison_levels=[
                cll.NullLevel("given_name"),
                _lvl(cll.ExactMatchLevel("given_name"), "same", 0.85, 0.01),
                _lvl(
                    custom("given_canon_l = given_canon_r", base_dialect_str="duckdb"),
                    "nickname of the same name",
                    0.03,
                    0.001,
                ),
                _lvl(
                    custom("given_name_l = family_name_r", base_dialect_str="duckdb"),
                    "swapped with the last name",
                    0.02,
                    0.0002,
                ),
                _lvl(cll.DamerauLevenshteinLevel("given_name", 1), "one typo", 0.05, 0.002),
                _lvl(cll.JaroWinklerLevel("given_name", 0.88), "similar", 0.03, 0.01),
                _lvl(cll.ElseLevel(), "different", 0.02, 0.977),
            ],
        ),
        cl.CustomComparison(
            output_column_name="family_name",
            comparison_levels=[
                cll.NullLevel("family_name"),
                _lvl(cll.ExactMatchLevel("family_name"), "same", 0.85, 0.005),
                _lvl(
                    custom("family_name_l = given_name_r", base_dialect_str="duckdb"),
                    "swapped with the first name",
                    0.02,
                    0.0002,
                ),
                _lvl(cll.DamerauLevenshteinLevel("family_name", 1), "one typo", 0.06, 0.002),
                _lvl(cll.JaroWinklerLevel("family_name", 0.88), "similar", 0.04, 0.01),
                _lvl(cll.ElseLevel(), "different", 0.03, 0.983),
            ],
        ),
        cl.CustomComparison(
            output_column_name="birthday",
            comparison_levels=[
                cll.NullLevel("birthday"),
                _lvl(cll.ExactMatchLevel("birthday"), "same", 0.85, 0.0001),
                _lvl(cll.DamerauLevenshteinLevel("birthday", 1), "one digit off", 0.08, 0.005),
                _lvl(
                    custom(
                        "substr(birthday_l, 1, 4) = substr(birthday_r, 1, 4)",
                        base_dialect_str="duckdb",
                    ),
                    "same year",
                    0.03,
                    0.01,
                ),
                _lvl(cll.ElseLevel(), "different", 0.04, 0.985),
            ],
        ),
        cl.CustomComparison(
            output_column_name="postcode",
            comparison_levels=[
                cll.NullLevel("postcode"),
                _lvl(cll.ExactMatchLevel("postcode"), "same", 0.85, 0.005),
                _lvl(cll.DamerauLevenshteinLevel("postcode", 1), "one digit off", 0.07, 0.02),
                _lvl(cll.ElseLevel(), "different", 0.08, 0.975),
            ],
        ),
        cl.CustomComparison(
            output_column_name="street_number",
            comparison_levels=[
                cll.NullLevel("street_number"),
                _lvl(cll.ExactMatchLevel("street_number"), "same", 0.85, 0.02),
                _lvl(cll.ElseLevel(), "different", 0.15, 0.98),
            ],
        ),
        cl.CustomComparison(
            output_column_name="street",
            comparison_levels=[
                cll.NullLevel("street"),
                _lvl(cll.ExactMatchLevel("street"), "same", 0.8, 0.002),
                _lvl(cll.JaroWinklerLevel("street", 0.9), "similar", 0.12, 0.01),
                _lvl(cll.ElseLevel(), "different", 0.08, 0.988),
            ],
        ),
        cl.CustomComparison(
            output_column_name="locality",
            comparison_levels=[
                cll.NullLevel("locality"),
                _lvl(cll.ExactMatchLevel("locality"), "same", 0.8, 0.005),
                _lvl(cll.JaroWinklerLevel("locality", 0.9), "similar", 0.12, 0.01),
                _lvl(cll.ElseLevel(), "different", 0.08, 0.985),
            ],
        ),
        cl.CustomComparison(
            output_column_name="email",
            comparison_levels=[
                custom("emails_l IS NULL OR emails_r IS NULL", base_dialect_str="duckdb").configure(
                    is_null_level=True
                ),
                _lvl(cll.ArrayIntersectLevel("emails", 1), "same address", 0.6, 0.00001),
                _lvl(
                    cll.ArrayIntersectLevel("email_users", 1),
                    "same name before the @",
                    0.2,
                    0.0005,
                ),
                _lvl(cll.ElseLevel(), "different", 0.2, 0.9995),
            ],
        ),
        cl.CustomComparison(
            output_column_name="phone",
            comparison_levels=[
                cll.NullLevel("phones"),
                _lvl(cll.ArrayIntersectLevel("phones", 1), "same number", 0.6, 0.00001),
                _lvl(cll.ElseLevel(), "different", 0.4, 0.99999),
            ],
        ),
        cl.CustomComparison(
            output_column_name="handle",
            comparison_levels=[
                custom(
                    "(handles_l IS NULL AND seen_handles_l IS NULL)"
                    " OR (handles_r IS NULL AND seen_handles_r IS NULL)",
                    base_dialect_str="duckdb",
                ).configure(is_null_level=True),
                _lvl(cll.ArrayIntersectLevel("handles", 1), "same handle", 0.6, 0.00001),
                _lvl(
                    custom(
                        "len(list_intersect(coalesce(handles_l, []), coalesce(seen_handles_r, [])))"
                        " + len(list_intersect(coalesce(seen_handles_l, []),"
                        " coalesce(handles_r, []))) > 0",
                        base_dialect_str="duckdb",
                    ),
                    "handle named in the other's signature or profile",
                    0.3,
                    0.00005,
                ),
                _lvl(cll.ElseLevel(), "different", 0.1, 0.99994),
            ],
        ),
        cl.CustomComparison(
            output_column_name="organisation",
            comparison_levels=[
                cll.NullLevel("organisations"),
                _lvl(cll.ArrayIntersectLevel("organisations", 1), "same", 0.7, 0.01),
                _lvl(cll.ElseLevel(), "different", 0.3, 0.99),
            ],
        ),
        cl.CustomComparison(
            output_column_name="id_number",
            comparison_levels=[
                cll.NullLevel("id_number"),
                _lvl(cll.ExactMatchLevel("id_number"), "same", 0.85, 0.00001),
                _lvl(cll.DamerauLevenshteinLevel("id_number", 2), "nearly the same", 0.1, 0.0005),
                _lvl(cll.ElseLevel(), "different", 0.05, 0.99949),
            ],
        ),
    ]


def blocking_rules() -> list[Any]:
    """Which pairs are compared at all: Splink's form of ``features.BLOCKING_RULES``."""
    _, _, block_on = _splink()
    rules: list[Any] = []
    for rule in BLOCKING_RULES:
        if all(left == right for left, right in rule):
            fields = [left for left, _ in rule]
            exploded = [f for f in fields if f in LIST_FIELDS]
            rules.append(
                block_on(*fields, arrays_to_explode=exploded) if exploded else block_on(*fields)
            )
        else:
            rules.append(" AND ".join(f"l.{left} = r.{right}" for left, right in rule))
    return rules


def _em_rules() -> list[Any]:
    """EM sessions: each estimates m for the fields its rule does not block on."""
    _, _, block_on = _splink()
    return [
        block_on("birthday"),
        block_on("postcode", "street_number"),
        block_on("family_name", "given_name"),
    ]


def _deterministic_rules() -> list[str]:
    return [
        "l.id_number = r.id_number",
        "l.given_name = r.given_name AND l.family_name = r.family_name AND l.birthday = r.birthday",
        "l.given_name = r.family_name AND l.family_name = r.given_name AND l.birthday = r.birthday",
    ]


def settings_creator():
    from splink import SettingsCreator

    return SettingsCreator(
        unique_id_column_name="unique_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=blocking_rules(),
        comparisons=comparisons(),
        # gamma_* (the level reached) and mw_* (its weight) columns: the "why" shown.
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
        probability_two_random_records_match=DEFAULT_PRIOR,
        additional_columns_to_retain=[],
    )


def _linker(rows: Sequence[dict[str, Any]], settings, *, backend: str = "duckdb", spark=None):
    from splink import Linker

    if isinstance(settings, dict):
        # Kith's own keys (the model version) are not Splink settings.
        settings = {k: v for k, v in settings.items() if not k.startswith("kith_")}
    # Splink warns about every level a data set cannot train; the priors cover those.
    logging.getLogger("splink").setLevel(logging.ERROR)
    if backend == "spark":  # pragma: no cover - needs pyspark and a cluster
        from splink import SparkAPI

        db_api = SparkAPI(spark_session=spark)
        frame = rows if not isinstance(rows, list) else spark.createDataFrame(rows)
    else:
        import duckdb
        import pyarrow as pa
        from splink import DuckDBAPI

        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        db_api = DuckDBAPI(connection=con)
        frame = con.from_arrow(pa.Table.from_pylist(list(rows), schema=_schema()))
    return Linker(db_api.register(frame), settings, log_level=None, validate_settings=False)


def _schema():
    import pyarrow as pa

    text = pa.string()
    texts = pa.list_(pa.string())
    return pa.schema(
        [
            ("unique_id", text),
            ("given_name", text),
            ("given_canon", text),
            ("family_name", text),
            ("birthday", text),
            ("street_number", text),
            ("street", text),
            ("locality", text),
            ("postcode", text),
            ("emails", texts),
            ("email_users", texts),
            ("phones", texts),
            ("handles", texts),
            ("seen_handles", texts),
            ("organisations", texts),
            ("id_number", text),
        ]
    )


def train(
    rows: Sequence[dict[str, Any]],
    *,
    match_pairs: Sequence[tuple[str, str]] = (),
    progress: Progress | None = None,
    seed: int = 7,
    backend: str = "duckdb",
    spark=None,
    keep_linker: list | None = None,
) -> dict[str, Any]:
    """Train the model on ``rows`` (from :func:`features.to_row`); returns its JSON.

    ``match_pairs`` are pairs of row ids staff confirmed as the same person: with enough
    of them, m is re-estimated from these labels after EM (Splink's
    ``estimate_m_from_pairwise_labels``).
    """
    report = progress or (lambda _pct, _msg: None)
    if len(rows) < MIN_TRAINING_RECORDS:
        raise TooLittleData(
            f"{len(rows)} people is too few to learn from (at least {MIN_TRAINING_RECORDS} "
            "are needed); duplicates are found by the exact rules until then."
        )
    report(5, "loading people")
    linker = _linker(rows, settings_creator(), backend=backend, spark=spark)
    report(15, "estimating how often two people are the same")
    try:
        linker.training.estimate_probability_two_random_records_match(
            _deterministic_rules(), recall=0.9
        )
    except Exception:
        logging.getLogger("kith.identity").info("no deterministic matches; prior kept")
    _keep_prior_usable(linker)
    report(30, "estimating u by random sampling")
    max_pairs = min(U_SAMPLE_PAIRS, max(1e4, len(rows) * (len(rows) - 1) / 2))
    linker.training.estimate_u_using_random_sampling(
        max_pairs=max_pairs, seed=seed, num_chunks=1, min_count_per_level=None
    )
    rules = _em_rules()
    trained_sessions = 0
    for index, rule in enumerate(rules):
        if trained_sessions == 2:
            # Two sessions on different keys have trained every field once; a third
            # only costs time. It runs when one of the first two found too few pairs
            # (sparse birth dates or addresses, as in many CRMs).
            break
        report(45 + 40 * index // len(rules), f"expectation maximisation {index + 1}/{len(rules)}")
        # A session that fails midway (too few pairs in its block) has already taken
        # its blocked fields out of the model: put the model back as it was.
        before = copy.deepcopy(linker._settings_obj.comparisons)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
            trained_sessions += 1
        except Exception as exc:
            linker._settings_obj.comparisons = before
            logging.getLogger("kith.identity").info(
                "EM session %s skipped: %s", index + 1, str(exc)[:200]
            )
    if len(match_pairs) >= 20:
        report(88, "m from staff decisions")
        _train_from_labels(linker, match_pairs)
    _keep_prior_usable(linker)
    report(95, "saving the model")
    model = linker.misc.save_model_to_json()
    model["kith_version"] = MODEL_VERSION
    if keep_linker is not None:
        keep_linker.append(linker)
    return model


def _keep_prior_usable(linker) -> None:
    """Put the prior back to the default when an estimate left it at 0 or 1.

    People with no deterministic duplicate among them (a fresh or a clean table) give an
    estimated prior of exactly 0, and Splink's prediction then fails on log2(0): the
    default prior is a better belief than "no two records ever match".
    """
    settings = linker._settings_obj
    prior = settings._probability_two_random_records_match
    if not (isinstance(prior, int | float) and 0.0 < prior < 1.0):
        settings._probability_two_random_records_match = DEFAULT_PRIOR


def _train_from_labels(linker, match_pairs: Sequence[tuple[str, str]]) -> None:
    import pyarrow as pa

    table = pa.Table.from_pylist(
        [
            {
                "source_dataset_l": "__splink__input_table_0",
                "unique_id_l": a,
                "source_dataset_r": "__splink__input_table_0",
                "unique_id_r": b,
                "clerical_match_score": 1.0,
            }
            for a, b in match_pairs
        ]
    )
    try:
        labels = linker.table_management.register_labels_table(table)
        linker.training.estimate_m_from_pairwise_labels(labels)
    except Exception:
        logging.getLogger("kith.identity").info("m from labels skipped")


def _level_labels(model: dict[str, Any]) -> dict[str, dict[int, str]]:
    """gamma value → level label, per comparison (Splink numbers levels from the top)."""
    out: dict[str, dict[int, str]] = {}
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        non_null = [lv for lv in levels if not lv.get("is_null_level")]
        mapping = {-1: "unknown"}
        for index, level in enumerate(non_null):
            mapping[len(non_null) - 1 - index] = level.get("label_for_charts") or ""
        out[comparison["output_column_name"]] = mapping
    return out


def _scored(model: dict[str, Any], records: list[dict[str, Any]]) -> list[ScoredPair]:
    labels = _level_labels(model)
    out = []
    for rec in records:
        reasons = []
        for name, levels in labels.items():
            gamma = rec.get(f"gamma_{name}")
            weight = rec.get(f"mw_{name}")
            if gamma is None or gamma == -1 or weight is None:
                continue
            reasons.append(
                Reason(
                    field=name,
                    label=_LABELS.get(name, name),
                    level=levels.get(int(gamma), ""),
                    weight=round(float(weight), 2),
                )
            )
        reasons.sort(key=lambda r: -abs(r.weight))
        probability = float(rec["match_probability"])
        if not any(r.weight > 0 and r.field not in NAME_FIELDS for r in reasons):
            # Never a match on the name alone, however rare the name: without one more
            # agreeing field (birth date, address, contact, handle, organisation) the
            # pair is capped below any sensible suggest threshold.
            probability = min(probability, NAME_ONLY_CAP)
        left, right = str(rec["unique_id_l"]), str(rec["unique_id_r"])
        if right < left:
            left, right = right, left
        out.append(
            ScoredPair(
                left=left,
                right=right,
                probability=probability,
                weight=round(float(rec["match_weight"]), 2),
                reasons=reasons,
            )
        )
    return out


def predict(
    model: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    *,
    threshold: float,
    backend: str = "duckdb",
    spark=None,
) -> tuple[list[ScoredPair], dict[str, str]]:
    """Pairs at or above ``threshold`` probability, and the cluster of every row id.

    Clusters are the connected components of the pairs at ``threshold``: a person who
    matches two others puts all three in one entity.
    """
    linker = _linker(rows, model, backend=backend, spark=spark)
    return _predict_with(linker, model, threshold)


def train_and_predict(
    rows: Sequence[dict[str, Any]],
    *,
    threshold: float,
    match_pairs: Sequence[tuple[str, str]] = (),
    progress: Progress | None = None,
) -> tuple[dict[str, Any], list[ScoredPair], dict[str, str]]:
    """:func:`train`, then :func:`predict` with the same loaded data (one load, not two)."""
    kept: list = []
    model = train(rows, match_pairs=match_pairs, progress=progress, keep_linker=kept)
    pairs, clusters = _predict_with(kept[0], model, threshold)
    return model, pairs, clusters


def _predict_with(linker, model: dict[str, Any], threshold: float):
    frame = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        frame, threshold_match_probability=threshold
    )
    pairs = _scored(model, frame.as_record_list())
    cluster_of = {str(r["unique_id"]): str(r["cluster_id"]) for r in clusters.as_record_list()}
    return pairs, cluster_of


def score(
    model: dict[str, Any], new: dict[str, Any], candidates: Sequence[dict[str, Any]]
) -> list[ScoredPair]:
    """Score one new record against each candidate (no blocking: candidates are few)."""
    if not candidates:
        return []
    linker = _linker(list(candidates), model)
    frame = linker.inference.score_pairs([new], list(candidates))
    return _scored(model, frame.as_record_list())


# Pairs per score_pairs call in score_many: the cross product of a chunk's new records
# and the union of their candidates, kept small enough to stay a fraction of a second.
SCORE_MANY_PAIRS = 20_000


# The last loaded model of this process, for score_many's callers that name it (the
# worker, batch after batch): [key, Linker, calls]. Loading cost half as much as
# scoring a batch. Splink leaves each call's small input tables in the model's DuckDB
# connection, so the model is loaded afresh after LOADED_CALLS calls.
_loaded: list[Any] | None = None
_loaded_lock = threading.Lock()
LOADED_CALLS = 100


def preload(model: dict[str, Any], *, key: Any) -> bool:
    """Load ``model`` for :func:`score_many` calls with ``key`` ahead of the first one.

    Importing Splink and DuckDB and building the model's linker cost the worker ~2 s of
    CPU at its first scoring. Returns False when that model was loaded already.
    """
    global _loaded
    with _loaded_lock:
        if _loaded is not None and _loaded[0] == key:
            return False
        # No records: a loaded model scores whatever records each call hands it.
        _loaded = [key, _linker([], model), 0]
        return True


def score_many(
    model: dict[str, Any],
    groups: Sequence[tuple[dict[str, Any], Sequence[dict[str, Any]]]],
    *,
    max_pairs: int = SCORE_MANY_PAIRS,
    key: Any = None,
) -> list[list[ScoredPair]]:
    """:func:`score` for each ``(new, candidates)`` of ``groups``, in that order.

    The same pairs and scores as one :func:`score` call per group (the model has no
    term-frequency adjustments, so a pair's score depends on the pair alone), but the
    model is loaded once and a chunk of new records is scored in one Splink call
    against the union of its candidates, the pairs not asked for dropped. Loading the
    model and Splink's building of its SQL cost ~0.1-0.3 s a call whatever the number
    of pairs: one call per new person made the worker spend that on every create once
    a model was trained.

    ``key`` names ``model`` for good (a trained run's id and finish time): the loaded
    model is then kept for the next call with the same key. The records it was loaded
    with do not matter to the scores (no term frequencies), only the model does.
    """
    results: list[list[ScoredPair]] = [[] for _ in groups]
    todo = [(i, new, list(cands)) for i, (new, cands) in enumerate(groups) if cands]
    if not todo:
        return results
    union: dict[str, dict[str, Any]] = {}
    for _, _, cands in todo:
        for cand in cands:
            union.setdefault(str(cand["unique_id"]), cand)
    global _loaded
    with _loaded_lock:  # one DuckDB connection: one thread at a time
        if key is not None and _loaded is not None and _loaded[0] == key:
            linker = _loaded[1]
            _loaded[2] += 1
            if _loaded[2] >= LOADED_CALLS:
                _loaded = None
        else:
            linker = _linker(list(union.values()), model)
            if key is not None:
                _loaded = [key, linker, 1]
        return _score_chunks(linker, model, todo, union, results, max_pairs)


def _wanted_records(frame, model: dict[str, Any], wanted: dict[tuple[str, str], int]):
    """The rows of a scored cross product that ``wanted`` asks for, with only the
    columns :func:`_scored` reads, as dicts.

    Filtered and projected in DuckDB: a chunk's cross product is up to
    ``SCORE_MANY_PAIRS`` rows of every comparison's values, levels and weights, while
    the pairs asked for are a few per new person; turning all of it into Python dicts
    was most of the worker's time for a stream of creates.
    """
    relation = frame.as_duckdbpyrelation()
    names = [c["output_column_name"] for c in model["comparisons"]]
    needed = ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
    needed += [f"{prefix}_{name}" for name in names for prefix in ("gamma", "mw")]
    present = set(relation.columns)
    columns = [c for c in needed if c in present]
    # Ids are the rows' own unique_id values (party ids as text); quoted as SQL strings.
    keys = ", ".join("'{}'".format(f"{left}|{right}".replace("'", "''")) for left, right in wanted)
    selected = relation.filter(
        f"concat(CAST(unique_id_l AS VARCHAR), '|', CAST(unique_id_r AS VARCHAR)) IN ({keys})"
    ).project(", ".join(f'"{c}"' for c in columns))
    return [dict(zip(columns, row, strict=True)) for row in selected.fetchall()]


def _score_chunks(linker, model, todo, union, results, max_pairs) -> list[list[ScoredPair]]:
    chunks: list[list[tuple[int, dict[str, Any], list[dict[str, Any]]]]] = [[]]
    rights: set[str] = set()
    for item in todo:
        ids = {str(c["unique_id"]) for c in item[2]}
        if chunks[-1] and (len(chunks[-1]) + 1) * len(rights | ids) > max_pairs:
            chunks.append([])
            rights = set()
        chunks[-1].append(item)
        rights |= ids
    for chunk in chunks:
        # (new id, candidate id) → the group that asked for the pair
        wanted = {
            (str(new["unique_id"]), str(c["unique_id"])): i
            for i, new, cands in chunk
            for c in cands
        }
        right_ids = dict.fromkeys(str(c["unique_id"]) for _, _, cands in chunk for c in cands)
        frame = linker.inference.score_pairs(
            [new for _, new, _ in chunk], [union[r] for r in right_ids]
        )
        records = _wanted_records(frame, model, wanted)
        frame.drop_table_from_database_and_remove_from_cache()
        kept = [
            (group, rec)
            for rec in records
            if (group := wanted.get((str(rec["unique_id_l"]), str(rec["unique_id_r"])))) is not None
        ]
        # One _scored call for the chunk: it reads the model's level labels once a call.
        for (group, _), pair in zip(kept, _scored(model, [rec for _, rec in kept]), strict=True):
            results[group].append(pair)
    return results
