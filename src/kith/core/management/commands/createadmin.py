"""``kith createadmin``: create an admin login (interactive, or from flags/environment)."""

import getpass
import os

from django.core.management.base import BaseCommand, CommandError

from kith.accounts import services
from kith.accounts.models import Role
from kith.core.context import channel
from kith.core.errors import ValidationFailed


class Command(BaseCommand):
    help = "Create an admin user. Password from --password, KITH_ADMIN_PASSWORD, or a prompt."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", default=None)

    def handle(self, *args, username: str, email: str, password: str | None, **options):
        password = password or os.environ.get("KITH_ADMIN_PASSWORD")
        if not password:
            if not os.isatty(0):
                raise CommandError("No password: pass --password or set KITH_ADMIN_PASSWORD.")
            password = getpass.getpass("Password: ")
        try:
            with channel("cli"):
                user = services.create_user(
                    actor=None, username=username, password=password, email=email, role=Role.ADMIN
                )
        except ValidationFailed as exc:
            raise CommandError("; ".join(f"{e.field}: {e.message}" for e in exc.errors)) from exc
        self.stdout.write(self.style.SUCCESS(f"Admin {user.username} created."))
