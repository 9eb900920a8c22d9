"""prices.combine: checks of one page each, merged into the result one check of all their pages gives."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from tools.base import ToolContext
from tools.errors import ToolError, ToolInputError, TransientToolError
from tools.price_report import summary
from tools.price_rules import Reading
from tools.prices import CheckInput, tool


def combine(checks: list[dict[str, Any]], **config: Any) -> dict[str, Any]:
    return tool.actions["combine"].run({"checks": checks, **config}, ToolContext())


def one_page(reading: Reading, *, history: bool = True, **config: Any) -> dict[str, Any]:
    """What prices.check returns for a single page with failWhenNoneRead false (its own alert decided alone)."""
    params = CheckInput.model_validate({"urls": [reading.url], "selector": ".price", **config})
    result = summary([reading], params.rules(), our_price=params.our_price is not None, history=history)
    result["transient"] = [reading.url] if reading.error and reading.transient else []
    return result


def read(url: str, text: str, price: str, currency: str | None, previous: str | None = None) -> Reading:
    return Reading(url=url, text=text, price=Decimal(price), currency=currency, opened_url=f"http://{url}",
                   previous_price=None if previous is None else Decimal(previous),
                   previous_currency=currency if previous else None)


def failed(url: str, error: str, *, transient: bool) -> Reading:
    return Reading(url=url, error=error, transient=transient)


def test_the_alert_is_decided_over_every_page_in_one_currency() -> None:
    us, fr = read("us.example/p", "$129.00", "129.00", "USD"), read("fr.example/p", "49,90 €", "49.90", "EUR")
    alone = one_page(fr, alertThreshold=99.99)
    assert alone["alerted"] == ["fr.example/p"]  # on its own, the euro page is in its own currency
    result = combine([one_page(us, alertThreshold=99.99), alone], alertThreshold=99.99)
    assert result["currency"] == "USD" and result["alert"] is False and result["alerted"] == []
    assert [p["url"] for p in result["pages"]] == ["us.example/p", "fr.example/p"]
    assert result["pages"][1]["note"] == "not comparable: the price is in EUR, the threshold is in USD"
    assert result["pages"][1]["reasons"] == [] and result["message"] == ""


def test_the_result_is_the_one_a_check_of_all_pages_gives() -> None:
    pages = [read("a.example/p", "$95.00", "95.00", "USD", previous="129.00"),
             read("b.example/p", "$89.50", "89.50", "USD", previous="89.50"),
             failed("c.example/p", "c.example/p answered HTTP 404", transient=False)]
    config = {"ourPrice": 99.99, "alertOnChange": True}
    merged = combine([one_page(replace(p, reasons=[]), **config) for p in pages], **config)
    params = CheckInput.model_validate({"urls": [p.url for p in pages], "selector": ".price", **config})
    assert merged == summary(pages, params.rules(), our_price=True, history=True)
    assert merged["alerted"] == ["a.example/p", "b.example/p"] and (merged["read"], merged["failed"]) == (2, 1)
    assert merged["pages"][0]["reasons"] == ["below our price of 99.99 USD", "changed since the last check"]
    assert merged["thresholdKind"] == "ourPrice" and "transient" not in merged
    assert merged["message"] == (
        "2 of 3 watched pages need your attention:\n\n"
        "- a.example/p: now 95.00 USD, was 129.00 USD; below our price of 99.99 USD; changed since the last check\n"
        "- b.example/p: now 89.50 USD, was 89.50 USD; below our price of 99.99 USD\n")


def test_history_is_reported_only_when_every_check_had_it() -> None:
    page = read("a.example/p", "$5", "5", "USD")
    assert combine([one_page(page), one_page(page, history=False)])["history"] is False
    assert combine([one_page(page)])["history"] is True


def test_when_no_page_could_be_read_the_merge_fails_naming_each() -> None:
    down = [one_page(failed(f"{n}.example/p", f"{n}.example/p could not be loaded", transient=True)) for n in "ab"]
    with pytest.raises(TransientToolError, match=r"no page could be read: a\.example/p: a\.example/p could not"):
        combine(down)  # every page was network trouble: worth the engine's retry, as a check's is
    moved = one_page(failed("c.example/p", "selector '.price' matched nothing", transient=False))
    with pytest.raises(ToolError, match=r"c\.example/p: selector") as error:
        combine([*down, moved])
    assert not isinstance(error.value, TransientToolError)


@pytest.mark.parametrize(("params", "problem"), [
    ({"checks": []}, "checks: List should have at least 1 item"),
    ({"checks": [{"pages": []}]}, "checks.0.pages: List should have at least 1 item"),
    ({"checks": [{"pages": [{"price": 5}]}]}, "checks.0.pages.0.url: Field required"),
    ({"checks": [{"pages": [{"url": "a.example/p", "price": 5}]}], "alertThreshold": 1, "ourPrice": 2}, "not both"),
])
def test_a_wrong_input_names_the_field(params: dict[str, Any], problem: str) -> None:
    with pytest.raises(ToolInputError, match=r"invalid input for prices\.combine") as error:
        tool.actions["combine"].run(params, ToolContext())
    assert problem in str(error.value)
