"""``kith restore FILE``: put a ``kith backup`` archive in place, migrate, reindex."""

from __future__ import annotations

import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from kith.core import backup


class Command(BaseCommand):
    help = (
        "Replace the database and the uploaded files with those of a backup archive, then "
        "migrate and rebuild the search index. Stop kith serve and kith worker first."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="a file written by kith backup")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        parser.add_argument("--no-reindex", action="store_true", help="skip kith reindex")

    def handle(self, *args, archive: str, yes: bool, no_reindex: bool, **options):
        path = Path(archive)
        database = settings.DATABASES["default"]
        try:
            manifest = backup.read_manifest(path)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        where = database["NAME"]
        self.stdout.write(
            f"Backup of {manifest['created_at']} ({manifest['engine']}, "
            f"{manifest['media_files']} uploaded files). It replaces the database {where} "
            f"and everything under {settings.MEDIA_ROOT}."
        )
        if not yes:
            if not sys.stdin.isatty():
                raise CommandError("Not a terminal: pass --yes to confirm the restore.")
            if input("Type 'yes' to restore: ").strip().lower() != "yes":
                raise CommandError("Restore cancelled; nothing was changed.")
        connections.close_all()  # nothing of ours may hold the old database open
        try:
            summary = backup.restore_backup(
                path,
                database=database,
                media_root=Path(settings.MEDIA_ROOT),
                data_dir=Path(settings.DATA_DIR),
            )
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored the {summary.engine} database and {summary.media_files} uploaded files"
            f"{' and the secret key' if summary.secret_key else ''}."
        )
        call_command("migrate", verbosity=0, interactive=False)
        if not no_reindex:
            call_command("reindex", quiet=True, stdout=self.stdout)
        self.stdout.write("Done. Start kith serve and kith worker again.")
