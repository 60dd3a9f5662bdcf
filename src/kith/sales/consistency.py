"""Sales consistency checks for ``kith check``: forecast cells and stage-history chains.

* Forecast cells are running totals the services keep as deals change; each must
  equal the sum over the deals it stands for (``services.forecast_totals``).
* A deal's stage history is a chain: the first entry comes from nowhere, each entry
  starts where the previous one ended, time never runs backwards, the last entry
  leads to the deal's stage and was made when the deal entered it.
"""

from __future__ import annotations

from kith.core import consistency
from kith.core.consistency import Drift
from kith.sales import services
from kith.sales.models import Deal, ForecastCell, StageChange

CELLS = "sales.forecast_cells"
HISTORY = "sales.stage_history"
_CELL_KEY = (
    "currency",
    "forecast_category",
    "forecast_month",
    "is_won",
    "owner_key",
    "pipeline_id",
    "team_key",
    "visibility",
)  # sorted, as in the keys of ``services.forecast_totals``


def forecast_cell_drift() -> list[Drift]:
    """Every cell whose (deals, cents, weighted cents) differs from its recomputation."""
    with consistency.snapshot():
        expected = services.forecast_totals()
        stored = {
            tuple(zip(_CELL_KEY, row[:-3], strict=True)): list(row[-3:])
            for row in ForecastCell.objects.values_list(
                *_CELL_KEY, "deals", "amount_cents", "weighted_cents"
            )
        }
    found = []
    for key in sorted(set(expected) | set(stored), key=repr):
        want, have = expected.get(key, [0, 0, 0]), stored.get(key, [0, 0, 0])
        if want != have:
            label = ", ".join(f"{k}={v}" for k, v in key)
            found.append(
                Drift(
                    CELLS,
                    f"forecast cell ({label})",
                    f"stored deals/cents/weighted {have}, recomputed {want}",
                )
            )
    return found


def stage_history_drift() -> list[Drift]:
    """Every deal whose stage history is not a chain ending at its current stage."""
    with consistency.snapshot():
        deals = {
            pk: (public_id, stage_id, entered)
            for pk, public_id, stage_id, entered in Deal.objects.values_list(
                "pk", "public_id", "stage_id", "stage_entered_at"
            ).iterator(chunk_size=5000)
        }
        rows = (
            StageChange.objects.order_by("deal_id", "id")
            .values_list("deal_id", "from_stage_id", "to_stage_id", "changed_at")
            .iterator(chunk_size=5000)
        )
        history: dict[int, list[tuple]] = {}
        for deal_id, from_id, to_id, at in rows:
            history.setdefault(deal_id, []).append((from_id, to_id, at))
    found = []
    for pk, (public_id, stage_id, entered) in deals.items():
        for detail, fixable in _chain_faults(history.get(pk, []), stage_id, entered):
            found.append(Drift(HISTORY, f"deal {public_id}", detail, fixable))
    return found


def _chain_faults(chain: list[tuple], stage_id: int, entered) -> list[tuple[str, bool]]:
    if not chain:
        return [("no stage history", True)]
    faults: list[tuple[str, bool]] = []
    if chain[0][0] is not None:
        faults.append(("the first entry comes from a stage, not from creation", False))
    for i in range(1, len(chain)):
        if chain[i][0] != chain[i - 1][1]:
            faults.append((f"entry {i + 1} starts where entry {i} did not end", False))
        if chain[i][2] < chain[i - 1][2]:
            faults.append((f"entry {i + 1} is dated before entry {i}", False))
    if chain[-1][1] != stage_id:
        faults.append(("the last entry does not lead to the deal's stage", True))
    elif chain[-1][2] != entered:
        faults.append(("stage_entered_at differs from the last entry's time", True))
    return faults


@consistency.check(CELLS, "forecast cells equal the sums over their deals")
def check_forecast_cells(*, fix: bool) -> list[Drift]:
    found = forecast_cell_drift()
    if found and fix:
        services.rebuild_forecast_cells_exactly()
    return found


@consistency.check(HISTORY, "each deal's stage history is a chain ending at its stage")
def check_stage_history(*, fix: bool) -> list[Drift]:
    found = stage_history_drift()
    if fix:
        ids = {d.subject.removeprefix("deal ") for d in found if d.fixable}
        for deal in Deal.objects.filter(public_id__in=ids).select_related("stage"):
            services.repair_stage_history(actor=None, deal=deal)
    return found
