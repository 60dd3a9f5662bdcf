"""``kith reindex``: rebuild the people search index from the database.

Run after restoring a backup or a bulk load done outside Kith's services, and daily
(cron) so that roles which began or ended with the passing of time show in search.
"""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from kith.people import search


class Command(BaseCommand):
    help = "Rebuild the people and organisations search index."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, batch_size: int, quiet: bool, **options):
        bar = tqdm(unit="parties", disable=quiet or not self.stderr.isatty(), file=self.stderr)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        indexed = search.reindex_all(batch_size=batch_size, progress=progress)
        bar.close()
        self.stdout.write(f"Indexed {indexed} parties.")
