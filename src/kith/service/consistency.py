"""Service consistency check for ``kith check``: each case's SLA clock agrees with itself.

What a case stores about its clock must follow from its other fields and its breach
rows, as ``services.change_status`` and ``services.check_breaches`` keep them:

* a paused clock (``paused_at``) belongs to a case pending the customer;
* ``next_due_at`` is the running target (first response until answered, then
  resolution), ``NO_DUE`` once the case is resolved or closed;
* the breach flags say exactly which ``SlaBreach`` rows exist.

The repair recomputes those fields from the others, under the case's row lock.
"""

from __future__ import annotations

from django.db import transaction

from kith.core import audit, consistency
from kith.core.consistency import Drift
from kith.service.models import NO_DUE, OPEN_STATUSES, Case, SlaBreach, Status

NAME = "service.sla_clocks"
FIELDS = (
    "status",
    "paused_at",
    "next_due_at",
    "first_responded_at",
    "first_response_due_at",
    "resolution_due_at",
    "first_response_breached",
    "resolution_breached",
    "breached",
)


def _expected(row: dict, kinds: set[str]) -> dict:
    """The clock fields a case with ``row``'s other fields and breach ``kinds`` must hold."""
    if row["status"] not in OPEN_STATUSES:
        next_due = NO_DUE
    elif row["first_responded_at"] is None and row["first_response_due_at"] is not None:
        next_due = row["first_response_due_at"]
    else:
        next_due = row["resolution_due_at"] or NO_DUE
    first = SlaBreach.Kind.FIRST_RESPONSE in kinds
    resolution = SlaBreach.Kind.RESOLUTION in kinds
    return {
        "paused_at": row["paused_at"] if row["status"] == Status.PENDING_CUSTOMER else None,
        "next_due_at": next_due,
        "first_response_breached": first,
        "resolution_breached": resolution,
        "breached": first or resolution,
    }


def _differences(row: dict, kinds: set[str]) -> dict[str, list]:
    want = _expected(row, kinds)
    return {k: [row[k], v] for k, v in want.items() if row[k] != v}


def sla_clock_drift() -> list[Drift]:
    """Every case whose clock fields disagree with its status, targets and breach rows."""
    with consistency.snapshot():
        kinds: dict[int, set[str]] = {}
        for case_id, kind in SlaBreach.objects.values_list("case_id", "kind").iterator(
            chunk_size=5000
        ):
            kinds.setdefault(case_id, set()).add(kind)
        found = []
        rows = Case.objects.values("pk", "number", *FIELDS).order_by("pk").iterator(chunk_size=5000)
        for row in rows:
            diff = _differences(row, kinds.get(row["pk"], set()))
            if diff:
                detail = "; ".join(f"{k} stored {a}, expected {b}" for k, (a, b) in diff.items())
                found.append(Drift(NAME, f"case #{row['number']}", detail))
    return found


def repair_sla_clock(*, actor, case_number: int) -> dict[str, list]:
    """Recompute one case's clock fields under its row lock; returns what changed."""
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(number=case_number).first()
        if case is None:
            return {}
        row = {"pk": case.pk, **{f: getattr(case, f) for f in FIELDS}}
        diff = _differences(row, set(case.breaches.values_list("kind", flat=True)))
        if not diff:
            return {}
        for key, (_, value) in diff.items():
            setattr(case, key, value)
        case.save(update_fields=[*diff, "updated_at"])
        audit.record(
            actor=actor,
            action="case.sla_clock_repaired",
            obj=case,
            changes={k: [str(a), str(b)] for k, (a, b) in diff.items()},
            party_id=case.requester_id,
        )
    return diff


@consistency.check(NAME, "each case's SLA clock agrees with its status and breaches")
def check_sla_clocks(*, fix: bool) -> list[Drift]:
    found = sla_clock_drift()
    if fix:
        for item in found:
            repair_sla_clock(actor=None, case_number=int(item.subject.removeprefix("case #")))
    return found
