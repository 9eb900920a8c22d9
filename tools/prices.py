"""prices: watch prices on web pages; read each page's price, remember it, decide the alert.

Each URL is read on its own: a page that cannot be opened or no longer has the selector is
reported with its error while the others are still read. It must never drive Chromium
except through browser_session, nor compare prices in different currencies.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from pydantic import Field, field_validator, model_validator

from . import price_rules
from .base import SideEffect, Tool, ToolContext, ToolInput
from .browser import read_values, save_screenshot
from .browser_session import MAX_TIMEOUT_MS, Session, in_session
from .errors import ToolError, TransientToolError
from .money import currency_code, parse_price
from .price_report import CheckResult, readings_of, summary, unread_error
from .price_rules import Reading

tool = Tool("prices", "Watch prices on web pages: read them, remember them, and alert when one drops or changes.")

MAX_URLS = 20
MAX_TEXT_CHARS = 500  # a price element's text; more is a selector that caught the whole page


class PriceStore(Protocol):
    """The task's price history (context.store("prices")), scoped to its owner, task and run."""

    def previous(self, url: str) -> tuple[Decimal, str | None] | None:
        """(price, currency) of the last successful reading of `url` by this task in an earlier run."""

    def record(self, url: str, *, price: Decimal | None, currency: str | None, text: str, error: str) -> None:
        """Keep this run's reading of `url` (once per run: a retried step replaces it)."""


def check_url(url: str) -> str:
    """An http(s) URL, or a scheme-less one as the seed writes them ("competitor.com/pricing")."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not url or (sep and not rest):
        raise ValueError(f"{url!r} is not a URL")
    if sep and scheme.lower() not in ("http", "https"):
        raise ValueError(f"{url!r}: only http and https pages can be watched")
    return url


class AlertConfig(ToolInput):
    """When a monitor alerts: shared by prices.check and the browser_automation config."""

    alert_threshold: float | None = Field(default=None, alias="alertThreshold", ge=0,
                                          description="Alert when a price is below this")
    our_price: float | None = Field(default=None, alias="ourPrice", ge=0,
                                    description="Alert when a competitor is below our price "
                                                "(instead of alertThreshold)")
    alert_on_change: bool | None = Field(default=None, alias="alertOnChange",
                                         description="Alert when a price changed since the last run; "
                                                     "default: on when neither alertThreshold nor ourPrice is given")
    currency: str | None = Field(default=None, max_length=10,
                                 description="The threshold's currency (ISO code or symbol); "
                                             "default: the first price's")

    @field_validator("currency")
    @classmethod
    def iso_currency(cls, value: str | None) -> str | None:
        return currency_code(value)

    @model_validator(mode="after")
    def one_threshold(self) -> AlertConfig:
        if self.alert_threshold is not None and self.our_price is not None:
            raise ValueError("give alertThreshold or ourPrice, not both: ourPrice is the threshold")
        return self

    def rules(self) -> price_rules.Rules:
        value = self.our_price if self.our_price is not None else self.alert_threshold
        on_change = self.alert_on_change if self.alert_on_change is not None else value is None
        return price_rules.Rules(threshold=None if value is None else Decimal(str(value)),
                                 threshold_name="our price" if self.our_price is not None else "the threshold",
                                 alert_on_change=on_change, currency=self.currency)


class CheckInput(AlertConfig):
    urls: list[str] = Field(min_length=1, max_length=MAX_URLS,
                            description="Pages to watch; a URL without a scheme tries https, then http")
    selector: str = Field(min_length=1, max_length=1000, description="CSS selector of the price on each page")
    attribute: str | None = Field(default=None, max_length=200, description="Read this attribute, not the text")
    screenshot: bool = Field(default=False, description="Also save a screenshot of each page")
    timeout_ms: int = Field(default=10_000, ge=1, le=MAX_TIMEOUT_MS, alias="timeoutMs",
                            description="How long to wait on each page for the price to have text")
    fail_when_none_read: bool = Field(default=True, alias="failWhenNoneRead",
                                      description="Fail when no page could be read; false: report every page "
                                                  "in its entry (a check of one page among several, which "
                                                  "prices.combine merges)")
    first_screenshot: int | None = Field(default=None, ge=1, le=1000, alias="screenshotNumber",
                                         description="Name the first page's screenshot screenshot-N.png, the "
                                                     "next N+1 ...; default: after the session's last one")

    @field_validator("urls")
    @classmethod
    def valid_urls(cls, urls: list[str]) -> list[str]:
        return list(dict.fromkeys(check_url(u) for u in urls))


def candidates(url: str) -> list[str]:
    """The URLs to try for one watched page: as written, or https then http without a scheme."""
    return [url] if "://" in url else [f"https://{url}", f"http://{url}"]


class _Unreachable(ToolError):
    """The page could not be opened at this URL (another scheme may work)."""

    def __init__(self, exc: ToolError):
        super().__init__(str(exc))
        self.transient = isinstance(exc, TransientToolError)


def _read_at(context: ToolContext, url: str, params: CheckInput, reading: Reading, shot: int | None) -> None:
    def act(s: Session) -> None:
        try:
            response = s.goto(url)
        except ToolError as exc:
            raise _Unreachable(exc) from None
        reading.opened_url = url
        if response is not None and response.status >= 400:
            raise ToolError(f"{url} answered HTTP {response.status}")
        if params.screenshot:
            reading.screenshot = save_screenshot(s, context, number=shot)
        value = read_values(s, params.selector, params.attribute, False, params.timeout_ms)
        reading.text = str(value or "")[:MAX_TEXT_CHARS]

    in_session(context, act, restore=False)


def _read(context: ToolContext, url: str, params: CheckInput, reading: Reading, shot: int | None) -> None:
    # Each scheme gets a fresh browser session: a failed https load leaves Chromium's error
    # page navigating, which would interrupt the http attempt in the same page.
    failures: list[_Unreachable] = []
    for candidate in candidates(url):
        try:
            _read_at(context, candidate, params, reading, shot)
            break
        except _Unreachable as exc:
            failures.append(exc)
    else:
        error = TransientToolError if all(f.transient for f in failures) else ToolError
        raise error("; ".join(str(f) for f in failures))
    money = parse_price(reading.text)
    if money.amount is None:
        raise ToolError(f"{params.selector!r} on {reading.opened_url} holds no price: {reading.text!r}")
    reading.price, reading.currency = money.amount, money.currency


def _check_one(context: ToolContext, url: str, params: CheckInput, store: PriceStore | None,
               shot: int | None) -> Reading:
    reading = Reading(url=url)
    try:
        _read(context, url, params, reading, shot)
    except ToolError as exc:  # this page's problem, reported in its entry; the others go on
        reading.error, reading.price, reading.currency = str(exc), None, None
        reading.transient = isinstance(exc, TransientToolError)
    if store is not None:
        previous = store.previous(url)
        if previous is not None:
            reading.previous_price, reading.previous_currency = previous
        store.record(url, price=reading.price, currency=reading.currency, text=reading.text or "",
                     error=reading.error or "")
    return reading


@tool.action("check", credits=30)
def check(params: CheckInput, context: ToolContext) -> dict[str, Any]:
    """Read the price at `selector` on each URL, compare it with the threshold (alertThreshold
    or ourPrice, in one currency) and with the last run's price; returns one entry per page
    (url, price, currency, text, previousPrice, changed, error), whether to alert, and the
    alert message listing exactly the pages that triggered it. Fails only when no page could be
    read (unless failWhenNoneRead is false)."""
    # Outside a task (a bare tool call) there is no history: prices are read, nothing compared with.
    store: PriceStore | None = context.stores.get("prices")
    first = params.first_screenshot
    readings = [_check_one(context, url, params, store, None if first is None else first + n)
                for n, url in enumerate(params.urls)]
    if params.fail_when_none_read and all(r.error for r in readings):
        # Readings are kept once per run, so the engine's retry replaces them.
        raise unread_error(readings)
    result = summary(readings, params.rules(), our_price=params.our_price is not None, history=store is not None)
    if not params.fail_when_none_read:  # prices.combine decides whether failing all pages is worth a retry
        result["transient"] = [r.url for r in readings if r.error and r.transient]
    return result


class CombineInput(AlertConfig):
    checks: list[CheckResult] = Field(min_length=1, max_length=MAX_URLS,
                                      description="prices.check results in URL order, e.g. "
                                                  "[\"{step1.result}\", \"{step2.result}\"]")


@tool.action("combine", side_effect=SideEffect.READ, credits=0)
def combine(params: CombineInput, context: ToolContext) -> dict[str, Any]:
    """Merge prices.check results (one page each, read in parallel) into the result one check of
    all their pages gives: the pages in order, the alert decided over all of them with these
    alert settings (one currency: the configured one, else the first price's), the message.
    Reads no page and stores nothing; fails, as a check does, when no page could be read."""
    readings = readings_of(params.checks)
    if all(r.error for r in readings):
        raise unread_error(readings)
    return summary(readings, params.rules(), our_price=params.our_price is not None,
                   history=all(c.history for c in params.checks))
