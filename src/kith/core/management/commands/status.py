"""``kith status``: what waits for the worker (the outbox backlog per lane, the
background tasks per queue)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from kith.core import events, worker


def describe_backlog(report: dict) -> list[str]:
    """The backlog as lines a person reads (the same figures as ``GET /api/system/outbox``)."""
    lines = ["Outbox (domain events waiting for the worker):"]
    for name, lane in report["lanes"].items():
        if not lane["pending"]:
            lines.append(f"  {name:<12} nothing waiting")
            continue
        rows = lane["pending"]
        stands = f" standing for {lane['events']:,} events" if lane["events"] != rows else ""
        lines.append(
            f"  {name:<12} {rows:,} pending{stands}, oldest {lane['oldest_age_seconds']:,.0f} s ago"
        )
    lines.append(f"  {'failed':<12} {report['failed']:,} (retried no more; see the log)")
    return lines


class Command(BaseCommand):
    help = "Show the outbox backlog: events waiting for the worker, per lane."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, **options):
        report = events.backlog()
        tasks = worker.waiting_tasks()
        if options["json"]:
            self.stdout.write(json.dumps({**report, "tasks": tasks}, default=str, indent=2))
            return
        lines = describe_backlog(report)
        if tasks:
            lines.append("Background tasks ready to run (bulk: imports and model fits):")
            lines += [f"  {queue:<12} {count:,}" for queue, count in tasks.items()]
        self.stdout.write("\n".join(lines))
