"""A price monitor's result over its readings: the one shape prices.check and prices.combine return.

Pure: nothing here opens a page or stores a price. prices.combine rebuilds readings from
the entries of several checks (one page each, run in parallel) and decides the alert over all
of them together, so the monitor's currency and message are those of one check of every page.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import price_rules
from .errors import ToolError, TransientToolError
from .price_rules import Reading


def unread_error(readings: list[Reading]) -> ToolError:
    """No page could be read: worth the engine's retry only when every page was network trouble
    (a page that changed is not)."""
    error = TransientToolError if all(r.transient for r in readings) else ToolError
    return error("no page could be read: " + "; ".join(f"{r.url}: {r.error}" for r in readings))


def summary(readings: list[Reading], rules: price_rules.Rules, *, our_price: bool, history: bool) -> dict[str, Any]:
    """Decide the alert over `readings` (in URL order) and report it: pages, alerted, message."""
    currency = price_rules.decide(readings, rules)
    alerted = [r.url for r in readings if r.reasons]
    return {
        "pages": [r.to_json() for r in readings], "alert": bool(alerted), "alerted": alerted,
        "currency": currency, "threshold": None if rules.threshold is None else float(rules.threshold),
        "thresholdKind": None if rules.threshold is None else ("ourPrice" if our_price else "alertThreshold"),
        "alertOnChange": rules.alert_on_change, "history": history,
        "read": sum(1 for r in readings if not r.error), "failed": sum(1 for r in readings if r.error),
        "message": price_rules.message(readings, len(readings)),
    }


class PageEntry(BaseModel):
    """One entry of a check's `pages`: what was read. Its alert fields (changed, alert, reasons,
    note) are ignored: they are decided again over every page."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    url: str = Field(min_length=1, max_length=2048)
    opened_url: str | None = Field(default=None, alias="openedUrl")
    text: str | None = None
    price: float | None = None
    currency: str | None = Field(default=None, max_length=10)
    previous_price: float | None = Field(default=None, alias="previousPrice")
    previous_currency: str | None = Field(default=None, alias="previousCurrency", max_length=10)
    screenshot: dict[str, Any] | None = None
    error: str | None = None


class CheckResult(BaseModel):
    """A prices.check result, as a later step receives it ({stepN.result})."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    pages: list[PageEntry] = Field(min_length=1)
    history: bool = False
    transient: list[str] = Field(default_factory=list,
                                 description="The pages whose reading failed on network trouble")


def readings_of(checks: list[CheckResult]) -> list[Reading]:
    """The checks' readings in order, as they were before any alert was decided."""
    return [Reading(url=p.url, text=p.text, price=_decimal(p.price), currency=p.currency, error=p.error,
                    opened_url=p.opened_url, previous_price=_decimal(p.previous_price),
                    previous_currency=p.previous_currency, screenshot=p.screenshot,
                    transient=bool(p.error) and p.url in check.transient)
            for check in checks for p in check.pages]


def _decimal(value: float | None) -> Decimal | None:
    # A check reports prices as JSON numbers; str() gives the shortest decimal that round-trips,
    # so 89.5 comes back as 89.5 and 1299.5 as 1299.5, never 89.4999...
    return None if value is None else Decimal(str(value))
