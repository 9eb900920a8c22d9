"""The task's price history for tools (tools.prices.PriceStore), over PriceObservation rows."""
from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet

from tasks_app.agent_data import PriceObservation

from . import Scope

PLACES = Decimal("0.0001")  # the column keeps four decimals


class Store:
    def __init__(self, scope: Scope):
        self.scope = scope

    def _rows(self, url: str) -> QuerySet[PriceObservation]:
        return PriceObservation.objects.filter(owner_id=self.scope.owner_id, task_id=self.scope.task_id, url=url)

    def previous(self, url: str) -> tuple[Decimal, str | None] | None:
        # An earlier run's last price that was read: a page that failed once must not make
        # the next good reading look like a change, nor hide one.
        row = (self._rows(url).filter(run__lt=self.scope.run, price__isnull=False)
               .order_by("-run", "-observed_at").first())
        if row is None or row.price is None:
            return None
        return row.price, row.currency or None

    def record(self, url: str, *, price: Decimal | None, currency: str | None, text: str, error: str) -> None:
        # One reading per URL and run: a step retried or redelivered replaces its own reading.
        PriceObservation.objects.update_or_create(
            owner_id=self.scope.owner_id, task_id=self.scope.task_id, run=self.scope.run, url=url,
            defaults={"price": None if price is None else price.quantize(PLACES), "currency": (currency or "")[:10],
                      "text": text, "error": error},
        )
