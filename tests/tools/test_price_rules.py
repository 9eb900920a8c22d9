"""The price monitor's alert decision: thresholds in one currency, changes since the last run."""
from __future__ import annotations

from decimal import Decimal

import pytest

from tools import price_rules
from tools.errors import ToolInputError
from tools.price_rules import Reading
from tools.prices import CheckInput


def rules(**config: object) -> price_rules.Rules:
    return CheckInput.model_validate({"urls": ["shop.example/pricing"], "selector": ".price", **config}).rules()


def reading(url: str, price: str | None, currency: str | None, previous: str | None = None,
            previous_currency: str | None = None, error: str | None = None) -> Reading:
    return Reading(url=url, text=price, price=None if price is None else Decimal(price), currency=currency,
                   previous_price=None if previous is None else Decimal(previous),
                   previous_currency=previous_currency or (currency if previous else None), error=error)


def test_a_threshold_compares_only_prices_in_its_currency() -> None:
    pages = [reading("a", "129.00", "USD"), reading("b", "89.50", "USD"), reading("c", "49.90", "EUR"),
             reading("d", "12", None), reading("e", None, None, error="unreachable")]
    currency = price_rules.decide(pages, rules(alertThreshold=99.99))
    assert currency == "USD"  # the first price's, as none was configured
    assert [bool(p.reasons) for p in pages] == [False, True, False, True, False]
    assert pages[1].reasons == ["below the threshold of 99.99 USD"]
    assert pages[2].note == "not comparable: the price is in EUR, the threshold is in USD"
    assert pages[0].note is None and not pages[0].changed  # a first reading never counts as changed


def test_the_configured_currency_wins_over_the_first_price() -> None:
    pages = [reading("a", "89.50", "USD"), reading("b", "49.90", "EUR")]
    assert price_rules.decide(pages, rules(alertThreshold=99.99, currency="€")) == "EUR"
    assert pages[0].note and not pages[0].reasons and pages[1].reasons == ["below the threshold of 99.99 EUR"]


def test_our_price_replaces_the_threshold() -> None:
    pages = [reading("a", "95", "USD"), reading("b", "105", "USD")]
    price_rules.decide(pages, rules(ourPrice=99))
    assert pages[0].reasons == ["below our price of 99.00 USD"] and not pages[1].reasons


def test_without_a_threshold_a_monitor_alerts_on_change() -> None:
    assert rules().alert_on_change is True and rules(alertThreshold=5).alert_on_change is False
    pages = [reading("a", "119", "USD", previous="129"), reading("b", "89.5", "USD", previous="89.50"),
             reading("c", "49.90", "EUR", previous="49.90", previous_currency="USD")]
    price_rules.decide(pages, rules())
    assert [p.changed for p in pages] == [True, False, True]
    assert [p.reasons for p in pages] == [["changed since the last check"], [], ["changed since the last check"]]
    body = price_rules.message(pages, 3)
    assert "- a: now 119.00 USD, was 129.00 USD; changed since the last check" in body
    assert "- c: now 49.90 EUR, was 49.90 USD" in body and "- b:" not in body


def test_both_threshold_and_change() -> None:
    pages = [reading("a", "90", "USD", previous="95")]
    price_rules.decide(pages, rules(alertThreshold=99.99, alertOnChange=True))
    assert pages[0].reasons == ["below the threshold of 99.99 USD", "changed since the last check"]
    assert price_rules.message(pages, 1).startswith("1 of 1 watched pages need your attention:")


def test_no_alert_no_message() -> None:
    pages = [reading("a", "129", "USD")]
    price_rules.decide(pages, rules(alertThreshold=99.99))
    assert price_rules.message(pages, 1) == "" and pages[0].to_json()["alert"] is False


@pytest.mark.parametrize(("config", "problem"), [
    ({"alertThreshold": 10, "ourPrice": 12}, "give alertThreshold or ourPrice, not both"),
    ({"alertThreshold": -1}, "alertThreshold: Input should be greater than or equal to 0"),
    ({"urls": ["ftp://shop.example/x"]}, "only http and https pages can be watched"),
    ({"urls": ["  "]}, "is not a URL"),
    ({"urls": []}, "urls: List should have at least 1 item"),
])
def test_bad_rules_name_what_is_wrong(config: dict, problem: str) -> None:
    from tools.prices import tool

    params = {"urls": ["shop.example/pricing"], "selector": ".price", **config}
    with pytest.raises(ToolInputError, match=problem):
        tool.actions["check"].validate(params)
