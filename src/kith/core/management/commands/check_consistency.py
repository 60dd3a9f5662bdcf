"""``kith check``: recompute what Kith keeps denormalised and report the drift.

Exit status 0 when every check is clean, 1 when drift was found (also with ``--fix``,
so a nightly job still reports that something had drifted), 2 on bad arguments.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from kith.core import consistency


class Command(BaseCommand):
    help = (
        "Recompute forecast cells, deal stage-history chains, case SLA clocks and counters "
        "from their source rows and report any drift (exit status 1); --fix repairs it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--fix", action="store_true", help="repair the drift found")
        parser.add_argument(
            "--only", action="append", metavar="CHECK", help="run only this check (repeatable)"
        )
        parser.add_argument("--list", action="store_true", help="list the checks and exit")
        parser.add_argument(
            "--limit", type=int, default=20, help="drift lines shown per check (default 20)"
        )

    def handle(self, *args, fix: bool, only: list[str] | None, limit: int, **options) -> None:
        if options["list"]:
            for name, item in consistency.checks().items():
                self.stdout.write(f"{name:28} {item.description}")
            return
        try:
            report = consistency.run(fix=fix, only=only)
        except KeyError as exc:
            raise CommandError(
                f"unknown check: {exc.args[0]}; see kith check --list", returncode=2
            ) from None
        for name, items in report.drift.items():
            if not items:
                self.stdout.write(f"ok     {name}")
                continue
            unfixable = sum(1 for d in items if not d.fixable)
            state = "fixed " if fix and not unfixable else "DRIFT "
            self.stdout.write(f"{state} {name}: {len(items)} found")
            for item in items[:limit]:
                mark = "" if item.fixable else " (not repairable automatically)"
                self.stdout.write(f"         {item.subject}: {item.detail}{mark}")
            if len(items) > limit:
                self.stdout.write(f"         … and {len(items) - limit} more")
        if report.clean:
            self.stdout.write("No drift.")
            return
        summary = f"{report.total} drift(s) found"
        if fix:
            summary += f"; repaired {report.total - report.unfixable}"
            if report.unfixable:
                summary += f", {report.unfixable} need a person"
        else:
            summary += "; run kith check --fix to repair"
        self.stderr.write(summary + ".")
        raise SystemExit(1)
