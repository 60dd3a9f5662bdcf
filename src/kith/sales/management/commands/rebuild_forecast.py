"""``kith rebuild_forecast``: recompute the forecast's running totals from the deals.

The services keep them current; run this after loading deals behind their back (a
bulk import straight into the database, a restore of only some tables).
"""

from django.core.management.base import BaseCommand

from kith.sales.services import rebuild_forecast_cells


class Command(BaseCommand):
    help = "Recompute the forecast's running totals (ForecastCell) from the deals."

    def handle(self, *args, **options) -> None:
        cells = rebuild_forecast_cells()
        self.stdout.write(f"Forecast rebuilt: {cells} cells.")
