"""``kith backup``: the database (online) and the uploads in one archive (kith.core.backup)."""

from __future__ import annotations

import datetime as dt
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kith.core import backup


def kith_version() -> str:
    try:
        return version("kith")
    except PackageNotFoundError:
        return ""


class Command(BaseCommand):
    help = (
        "Back up the database and the uploaded files into one .tar.gz archive. "
        "Safe while Kith is running."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            "-o",
            help="archive to write (default: KITH_DATA_DIR/backups/kith-backup-<time>.tar.gz)",
        )

    def handle(self, *args, output: str | None, **options):
        if output:
            dest = Path(output)
        else:
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            dest = Path(settings.DATA_DIR) / "backups" / f"kith-backup-{stamp}.tar.gz"
        try:
            summary = backup.create_backup(
                dest,
                database=settings.DATABASES["default"],
                media_root=Path(settings.MEDIA_ROOT),
                data_dir=Path(settings.DATA_DIR),
                kith_version=kith_version(),
            )
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Backed up the {summary.engine} database ({summary.database_bytes:,} bytes), "
            f"{summary.media_files} uploaded files"
            f"{' and the secret key' if summary.secret_key else ''} to {summary.path}"
        )
        self.stdout.write("Keep it private: it holds every record and password hash.")
