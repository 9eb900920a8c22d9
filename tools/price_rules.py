"""The alert decision of a price monitor: which readings are below the threshold, which changed.

Pure functions over readings already taken; nothing here opens a page or stores a price.
A threshold is compared only with prices in its own currency: a price in another currency
is reported as not comparable, never converted or compared as if it were the same money.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .money import format_money


@dataclass
class Reading:
    """One page's reading in this run, beside the last successful one of an earlier run."""

    url: str
    text: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    error: str | None = None
    opened_url: str | None = None
    previous_price: Decimal | None = None
    previous_currency: str | None = None
    screenshot: dict[str, Any] | None = None
    reasons: list[str] = field(default_factory=list)
    note: str | None = None
    transient: bool = False  # the error was network trouble (worth a retry), not a changed page

    @property
    def changed(self) -> bool:
        """Differs from the earlier reading; a first reading (nothing earlier) never counts."""
        if self.price is None or self.previous_price is None:
            return False
        return self.price != self.previous_price or (self.currency or None) != (self.previous_currency or None)

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "url": self.url, "openedUrl": self.opened_url, "text": self.text,
            "price": _number(self.price), "currency": self.currency,
            "previousPrice": _number(self.previous_price), "previousCurrency": self.previous_currency,
            "changed": self.changed, "alert": bool(self.reasons), "reasons": self.reasons,
        }
        if self.note:
            entry["note"] = self.note
        if self.screenshot:
            entry["screenshot"] = self.screenshot
        if self.error:
            entry["error"] = self.error
        return entry


@dataclass(frozen=True)
class Rules:
    threshold: Decimal | None  # alertThreshold, or ourPrice in its place
    threshold_name: str  # how the message names it: "the threshold" or "our price"
    alert_on_change: bool
    currency: str | None  # the threshold's currency as configured; None: the first price's


def monitor_currency(rules: Rules, readings: list[Reading]) -> str | None:
    """The currency thresholds are in: the configured one, else the first price read that has one."""
    if rules.currency:
        return rules.currency
    return next((r.currency for r in readings if r.price is not None and r.currency), None)


def decide(readings: list[Reading], rules: Rules) -> str | None:
    """Fill each reading's alert reasons (and not-comparable note); return the monitor's currency."""
    currency = monitor_currency(rules, readings)
    for reading in readings:
        if reading.price is None:
            continue
        if rules.threshold is not None:
            _compare(reading, rules.threshold, rules.threshold_name, currency)
        if rules.alert_on_change and reading.changed:
            reading.reasons.append("changed since the last check")
    return currency


def _compare(reading: Reading, threshold: Decimal, name: str, currency: str | None) -> None:
    # A price shown without a currency is taken to be in the monitor's currency: pages often
    # print the symbol in a separate element from the number.
    if reading.currency and currency and reading.currency != currency:
        reading.note = f"not comparable: the price is in {reading.currency}, {name} is in {currency}"
        return
    if reading.price is not None and reading.price < threshold:
        reading.reasons.append(f"below {name} of {format_money(threshold, currency)}")


def message(readings: list[Reading], checked: int) -> str:
    """The alert email's body: exactly the pages that triggered it, each with old and new price."""
    alerted = [r for r in readings if r.reasons]
    if not alerted:
        return ""
    lines = [f"{len(alerted)} of {checked} watched pages need your attention:", ""]
    for r in alerted:
        was = (format_money(r.previous_price, r.previous_currency) if r.previous_price is not None
               else "no earlier reading")
        lines.append(f"- {r.url}: now {format_money(r.price, r.currency)}, was {was}; {'; '.join(r.reasons)}")
    return "\n".join(lines) + "\n"


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
