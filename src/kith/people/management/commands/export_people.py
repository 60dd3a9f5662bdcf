"""``kith export``: export people or organisations to CSV or vCard, filtered like the list."""

import sys

from django.core.management.base import BaseCommand, CommandError

from kith.core.context import channel
from kith.core.errors import ValidationFailed
from kith.people import exporting
from kith.people.management.commands.import_people import command_user, describe
from kith.people.models import Party
from kith.people.queries import PartyFilters


class Command(BaseCommand):
    help = "Export people (or organisations) as CSV or vCard, with the list's filters."

    def add_arguments(self, parser):
        parser.add_argument("--organizations", action="store_true", help="export organisations")
        parser.add_argument("--format", choices=("csv", "vcard"), default="csv")
        parser.add_argument("--vcard-version", choices=("3.0", "4.0"), default="4.0")
        parser.add_argument("--role", default="", help="holding this role today (slug)")
        parser.add_argument("--tag", default="")
        parser.add_argument("--organization", default="", help="people of this organisation (id)")
        parser.add_argument("--owner", default="", help="owner's username")
        parser.add_argument("--q", default="", help="search text")
        parser.add_argument("-o", "--output", default="-", help="file to write (default: stdout)")
        parser.add_argument("--as", dest="username", help="export what this user sees")

    def handle(self, *args, **options):
        actor = command_user(options["username"])
        kind = Party.Kind.ORGANIZATION if options["organizations"] else Party.Kind.PERSON
        filters = PartyFilters(
            q=options["q"],
            role=options["role"],
            tag=options["tag"],
            organization=options["organization"],
            owner=options["owner"],
        )
        output = options["output"]
        try:
            stream = (
                getattr(self.stdout, "_out", sys.stdout)
                if output == "-"
                else open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115
            )
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror or exc}") from exc
        try:
            with channel("cli"):
                qs = exporting.export_queryset(actor, filters, kind=kind)
                if options["format"] == "vcard":
                    count = exporting.export_vcard(qs, stream, version=options["vcard_version"])
                else:
                    count = exporting.export_csv(qs, stream, kind=kind)
        except ValidationFailed as exc:
            raise CommandError(describe(exc)) from exc
        finally:
            if output != "-":
                stream.close()
        noun = "organisations" if options["organizations"] else "people"
        if output != "-":
            self.stderr.write(f"Exported {count} {noun} to {output}.")
