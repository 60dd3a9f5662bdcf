"""``kith import``: import people or organisations from a CSV or vCard file.

Runs synchronously with a progress bar, prints the counts and every rejected row,
and exits non-zero only when the file could not be read (rejected rows are reported,
not fatal: the good rows are in).

An import that was killed (Ctrl+C twice, kill -9, a lost machine) stops beating; after
``KITH_IMPORT_STALE_SECONDS`` it shows as stale in ``kith import --jobs``, and
``kith import --resume ID`` continues after its last saved chunk (``--restart ID``
runs it again from the first row; rows already in count as unchanged).
"""

import sys
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from kith.accounts.models import Role, User
from kith.core.context import channel
from kith.core.errors import KithError, ValidationFailed
from kith.people import importing
from kith.people.models import ImportJob

SHOWN_ERRORS = 50


def command_user(username: str | None) -> User:
    """The user a CLI import or export acts as: ``--as`` or the first active admin."""
    staff = User.objects.filter(kind=User.Kind.STAFF, is_active=True)
    if username:
        user = staff.filter(username=username).first()
        if user is None:
            raise CommandError(f"No active staff user named {username!r}.")
        return user
    user = staff.filter(role=Role.ADMIN).order_by("id").first()
    if user is None:
        raise CommandError("No admin user yet: create one with `kith createadmin NAME`.")
    return user


def parse_mapping(pairs: list[str]) -> dict[str, str] | None:
    """``["E-mail=email", "Who=display_name"]`` → a mapping; None when no pair is given."""
    if not pairs:
        return None
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, target = pair.rpartition("=")
        if not sep or not column.strip():
            raise CommandError(f"--map takes COLUMN=TARGET, got {pair!r}.")
        mapping[column.strip()] = target.strip()
    return mapping


def describe(exc: ValidationFailed) -> str:
    lines = [exc.message] if exc.message != ValidationFailed.default_message else []
    lines += [f"  {e.field}: {e.message}" for e in exc.errors]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Import people (or organisations) from a CSV or vCard file."
    # The system checks belong to `kith migrate` and `kith serve`; on every import
    # they only added start-up time (about 0.3 s).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="CSV or vCard file; - reads standard input")
        parser.add_argument("--jobs", action="store_true", help="list recent imports and exit")
        parser.add_argument(
            "--resume", metavar="ID", help="continue a stalled or failed import after its last row"
        )
        parser.add_argument(
            "--restart", metavar="ID", help="run a stalled or failed import again from row one"
        )
        parser.add_argument(
            "--organizations", action="store_true", help="the rows are organisations"
        )
        parser.add_argument(
            "--format", choices=importing.FORMATS, help="default: from the file name"
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=TARGET",
            help="map a column (repeatable); without any, columns are mapped by their names",
        )
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
        parser.add_argument("--errors-out", metavar="FILE", help="write rejected rows as CSV")
        parser.add_argument("--as", dest="username", help="import as this user (default: admin)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def list_jobs(self) -> None:
        importing.mark_stale_jobs()
        jobs = ImportJob.objects.defer("content").order_by("-created_at")[:20]
        if not jobs:
            self.stdout.write("No imports yet.")
        for job in jobs:
            self.stdout.write(
                f"{job.public_id}  {job.status:<8} {job.processed_rows:>7}/{job.total_rows:<7} "
                f"{job.created_at:%Y-%m-%d %H:%M}  {job.file_name}"
            )

    def find_job(self, public_id: str) -> ImportJob:
        try:
            return ImportJob.objects.get(public_id=uuid.UUID(public_id))
        except (ValueError, ImportJob.DoesNotExist) as exc:
            raise CommandError(
                f"No import {public_id!r}; `kith import --jobs` lists them."
            ) from exc

    def handle(self, *args, **options):
        if options["jobs"]:
            self.list_jobs()
            return
        if options["resume"] or options["restart"]:
            actor = command_user(options["username"])
            job = self.find_job(options["resume"] or options["restart"])
            again = (
                importing.resume_import_job if options["resume"] else importing.restart_import_job
            )
            try:
                with channel("import"):
                    job = again(actor=actor, job=job)
            except KithError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(job.message)
            self.run(job, options)
            return
        name = options["file"]
        if not name:
            raise CommandError("Give a FILE to import (or --jobs, --resume ID, --restart ID).")
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {name}: {exc.strerror or exc}") from exc
        actor = command_user(options["username"])
        file_format = options["format"] or (
            "vcard" if name.casefold().endswith((".vcf", ".vcard")) else "csv"
        )
        try:
            with channel("import"):
                job = importing.create_import_job(
                    actor=actor,
                    kind="organizations" if options["organizations"] else "people",
                    file_format=file_format,
                    file_name=Path(name).name if name != "-" else "stdin",
                    content=data,
                    mapping=parse_mapping(options["map"]),
                    dry_run=options["dry_run"],
                )
        except ValidationFailed as exc:
            raise CommandError(f"Cannot import {name}:\n{describe(exc)}") from exc
        if job.mapping:
            self.stdout.write("Columns: " + ", ".join(f"{c} → {t}" for c, t in job.mapping.items()))
        self.run(job, options)

    def run(self, job: ImportJob, options: dict) -> None:
        bar = tqdm(
            initial=job.processed_rows,
            total=job.total_rows,
            unit="row",
            desc="dry run" if job.dry_run else "import",
            file=getattr(self.stderr, "_out", sys.stderr),
            disable=options["no_progress"],
        )
        try:
            job = importing.run_import_job(
                job.pk, progress=lambda j: bar.update(j.processed_rows - bar.n)
            )
        except Exception as exc:
            job.refresh_from_db()
            raise CommandError(job.message or str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(job.message)
        for error in job.errors[:SHOWN_ERRORS]:
            value = f" ({error['value']})" if error.get("value") else ""
            self.stdout.write(f"  row {error['row']}, {error['field']}: {error['message']}{value}")
        if len(job.errors) > SHOWN_ERRORS:
            self.stdout.write(
                f"  … and {len(job.errors) - SHOWN_ERRORS} more"
                + ("" if options["errors_out"] else "; use --errors-out FILE for all of them")
            )
        if options["errors_out"]:
            Path(options["errors_out"]).write_text(importing.errors_csv(job), encoding="utf-8")
            self.stdout.write(f"Rejected rows written to {options['errors_out']}.")
