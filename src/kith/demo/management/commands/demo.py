"""``kith demo``: load the deterministic demo data set and the demo logins.

Running it twice does not duplicate anything: when demo data is present it says so and
stops; ``--reset`` deletes what the demo created (and only that) and loads it again.
"""

from __future__ import annotations

import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from kith.demo import data

STEPS = 10 + len(data.EXTENSIONS)  # the steps load() reports through its progress callback


class Command(BaseCommand):
    help = (
        "Load a realistic, deterministic demo data set (people, organisations, roles over "
        "time, interactions, transactions) and demo logins."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Delete the demo data loaded before (and only that), then load it again.",
        )
        parser.add_argument("--people", type=int, default=data.DEFAULT_PEOPLE)
        parser.add_argument("--organizations", type=int, default=data.DEFAULT_ORGANIZATIONS)
        parser.add_argument("--interactions", type=int, default=data.DEFAULT_INTERACTIONS)
        parser.add_argument(
            "--seed", type=int, default=data.DEFAULT_SEED, help="Another seed, other data."
        )
        parser.add_argument(
            "--anchor",
            type=dt.date.fromisoformat,
            default=None,
            help="The day the data ends (YYYY-MM-DD; default today, so the demo is current). "
            f"Pass one (e.g. {data.ANCHOR}) to get the same data on every run.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options) -> None:
        if "people_party" not in connection.introspection.table_names():
            raise CommandError("The database has no tables yet: run `kith migrate` first.")
        if data.demo_loaded():
            if not options["reset"]:
                self.stdout.write(
                    "Demo data is loaded already; nothing to do.\n"
                    "Run `kith demo --reset` to delete it and load it again."
                )
                self.print_logins()
                return
            counts = data.wipe()
            self.stdout.write(
                f"Deleted the demo data loaded before ({counts['parties']} people and "
                f"organisations, {counts['logins']} logins)."
            )
        bar = None
        if not options["no_progress"] and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=STEPS, desc="kith demo", unit="step", leave=False)

        def progress(step: str) -> None:
            if bar is not None:
                bar.set_postfix_str(step)
                bar.update(1)

        try:
            result = data.load(
                people=options["people"],
                organizations=options["organizations"],
                interactions=options["interactions"],
                seed=options["seed"],
                # Today by default: the demo is a living CRM (tasks due now, forecasts ahead).
                anchor=options["anchor"] or timezone.localdate(),
                progress=progress,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded in {result.seconds:.1f} s:")
            + f"\n  {result.organizations} organisations, {result.people} people,"
            f" {result.contact_points} contact points"
            f"\n  {result.relationships} roles over time"
            f"\n  {result.interactions} interactions (+ {result.role_changes} role changes"
            " on the timelines)"
            f"\n  {result.transactions} transactions (orders, payments, refunds)"
        )
        for line in result.extensions:
            self.stdout.write(f"  {line}")
        for note in result.skipped:
            self.stdout.write(self.style.WARNING(f"  note: {note}"))
        self.print_logins(portal_person=result.portal_person)

    def print_logins(self, portal_person: str = "") -> None:
        """The demo logins and their shared password."""
        self.stdout.write(f"\nDemo logins (password for all: {data.DEMO_PASSWORD}):")
        for login in data.LOGINS:
            text = login.description
            if login.username == "carol" and portal_person:
                text += f" ({portal_person})"
            self.stdout.write(f"  {login.username:<6} {text}")
        self.stdout.write("Open http://127.0.0.1:8000/ after `kith serve`.")
