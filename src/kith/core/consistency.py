"""Consistency checks: recompute what Kith keeps denormalised and report the drift.

Running totals (forecast cells), chains (a deal's stage history), clocks (a case's SLA
state) and counters (comments on a post) are kept by the services as they write. A
bug, a crash between two systems or a hand edit in the database can still make them
drift from the rows they summarise. ``kith check`` (and the worker, once a day)
recomputes each from its source and reports every difference; ``kith check --fix``
repairs what can be repaired.

Each app declares its checks in a ``consistency.py`` module, found the way Django's
admin finds ``admin.py`` (``autodiscover_modules``), so ``core`` imports no app::

    from kith.core import consistency

    @consistency.check("sales.forecast_cells", "forecast cells equal a recomputation")
    def forecast_cells(*, fix: bool) -> list[consistency.Drift]:
        ...

A check returns the drift it found (before repairing, when ``fix`` is true) and must
be safe to run at any time: it reads, and writes only when asked to fix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils.module_loading import autodiscover_modules

logger = logging.getLogger("kith.consistency")


@dataclass(frozen=True)
class Drift:
    """One difference between a stored value and its recomputation."""

    check: str
    subject: str  # what drifted, e.g. "deal 1f0c…" or "forecast cell …"
    detail: str  # stored against expected, in words
    fixable: bool = True


CheckFunc = Callable[..., list[Drift]]


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    func: CheckFunc


@dataclass
class Report:
    """The outcome of a run: every drift found, by check, and whether it was repaired."""

    fixed: bool
    drift: dict[str, list[Drift]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not any(self.drift.values())

    @property
    def total(self) -> int:
        return sum(len(items) for items in self.drift.values())

    @property
    def unfixable(self) -> int:
        return sum(1 for items in self.drift.values() for d in items if not d.fixable)


_checks: dict[str, Check] = {}
_discovered = False


def check(name: str, description: str) -> Callable[[CheckFunc], CheckFunc]:
    """Register a consistency check called ``func(*, fix: bool) -> list[Drift]``."""

    def register(func: CheckFunc) -> CheckFunc:
        _checks[name] = Check(name, description, func)
        return func

    return register


def checks() -> dict[str, Check]:
    """Every registered check, by name (each app's ``consistency`` module, imported once)."""
    global _discovered
    if not _discovered:
        autodiscover_modules("consistency")
        _discovered = True
    return dict(sorted(_checks.items()))


@contextmanager
def snapshot() -> Iterator[None]:
    """Read a summary and its source as of one moment, while writers carry on.

    A check compares two tables that every service changes in one transaction; read
    at two moments, a write in between would look like drift. PostgreSQL gets a
    REPEATABLE READ transaction (one snapshot for every statement); SQLite's
    transaction is already one snapshot.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def run(*, fix: bool = False, only: list[str] | None = None) -> Report:
    """Run the checks (those named in ``only``, else all); repair when ``fix`` is true."""
    available = checks()
    unknown = sorted(set(only or []) - set(available))
    if unknown:
        raise KeyError(", ".join(unknown))
    report = Report(fixed=fix)
    for name, item in available.items():
        if only and name not in only:
            continue
        report.drift[name] = list(item.func(fix=fix))
    return report


def run_daily() -> Report:
    """The worker's daily clock: report drift in the log; repairs are left to a person.

    Repairing silently would hide the bug that caused the drift; a warning per check
    says what to run (``kith check --fix``) once the cause is understood.
    """
    report = run(fix=False)
    for name, items in report.drift.items():
        if items:
            logger.warning(
                "consistency check %s: %d drift(s), e.g. %s: %s; run `kith check --fix`",
                name,
                len(items),
                items[0].subject,
                items[0].detail,
            )
    return report
