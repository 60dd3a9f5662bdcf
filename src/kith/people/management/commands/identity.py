"""``kith identity train`` — train the identity model now, with a progress bar.

``kith identity train --queue`` leaves it to the worker instead (as the API does);
``kith identity status`` shows the latest run.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kith.core.errors import Conflict
from kith.people.identity import service
from kith.people.identity.models import IdentityModel


class Command(BaseCommand):
    help = "Identity resolution: train the model on the people table, or show its status."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["train", "status"])
        parser.add_argument(
            "--queue", action="store_true", help="queue the training for the worker"
        )

    def handle(self, *args, action: str, queue: bool = False, **options) -> None:
        if action == "status":
            run = IdentityModel.objects.order_by("-created_at", "-id").first()
            if run is None:
                self.stdout.write("No identity model has been trained yet.")
                return
            self._report(run)
            self.stdout.write(
                f"{service.queued_count()} new or changed people waiting to be scored "
                f"(every {settings.KITH_IDENTITY_SCORE_SECONDS} s)."
            )
            return
        if queue:
            try:
                run = service.request_training(actor=None)
            except Conflict as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"Queued identity training {run.public_id}.")
            return
        run = IdentityModel.objects.create()
        from tqdm import tqdm

        bar = tqdm(total=100, unit="%", desc="training", disable=not self.stdout.isatty())
        original = service._set_progress

        def progress(run_id: int, percent: int, stage: str) -> None:
            original(run_id, percent, stage)
            bar.set_description(stage[:40])
            bar.update(max(0, percent - bar.n))

        service._set_progress = progress
        try:
            run = service.run_training(run_id=run.pk)
        finally:
            service._set_progress = original
            bar.update(100 - bar.n)
            bar.close()
        self._report(run)
        if run.status == IdentityModel.Status.FAILED:
            raise CommandError(run.message)

    def _report(self, run: IdentityModel) -> None:
        self.stdout.write(
            f"{run.status}: {run.record_count} people, {run.suggestion_count} suggestions, "
            f"{run.labelled_matches} confirmed and {run.labelled_non_matches} rejected pairs"
            + (f" — {run.message}" if run.message else "")
        )
