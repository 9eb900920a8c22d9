"""prices.check against real Chromium and local pricing pages: each page read on its own."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.fakes.pages import Site, closed_port, js_shop_page, shop_page
from tools.base import ToolContext
from tools.errors import ToolError, TransientToolError
from tools.prices import tool

pytestmark = pytest.mark.browser


@pytest.fixture
def shops(loopback_allowed) -> Iterator[Site]:
    pages = {"/usd": shop_page("A", "$129.00"), "/eur": js_shop_page("B", "1.299,00 €"),
             "/chf": shop_page("C", "CHF 1'299.50"), "/gone": "<h1>We moved our prices</h1>",
             "/words": shop_page("D", "Call us")}
    with Site(pages) as site:
        yield site


def check(params: dict, context: ToolContext) -> dict:
    return tool.actions["check"].run({"selector": ".price", **params}, context)


def test_each_page_is_read_and_reported_on_its_own(shops: Site, tool_context: ToolContext) -> None:
    host = shops.url.removeprefix("http://")
    dead = f"127.0.0.1:{closed_port()}/pricing"
    result = check({"urls": [f"{host}/usd", f"{shops.url}/eur", dead, f"{host}/gone", f"{host}/words",
                             f"{host}/missing"], "alertThreshold": 100, "timeoutMs": 2500}, tool_context)
    usd, eur, down, gone, words, missing = result["pages"]
    assert (usd["price"], usd["currency"], usd["text"]) == (129.0, "USD", "$129.00")
    assert usd["openedUrl"] == f"http://{host}/usd"  # https failed on the plain-http port; http worked
    assert (eur["price"], eur["currency"], eur["openedUrl"]) == (1299.0, "EUR", f"{shops.url}/eur")
    assert eur["note"] == "not comparable: the price is in EUR, the threshold is in USD"
    assert re.search(rf"https://{re.escape(dead)} could not be loaded: .*; http://{re.escape(dead)} could not be"
                     " loaded", down["error"]), down["error"]
    assert down["price"] is None and down["openedUrl"] is None
    assert "selector '.price' matched nothing" in gone["error"]
    assert words["error"] == f"'.price' on http://{host}/words holds no price: 'Call us'"
    assert missing["error"] == f"http://{host}/missing answered HTTP 404"
    assert result["alert"] is False and result["alerted"] == [] and result["currency"] == "USD"
    assert (result["read"], result["failed"], result["history"]) == (2, 4, False)


def test_a_currency_config_picks_which_prices_the_threshold_compares(shops: Site, tool_context: ToolContext) -> None:
    result = check({"urls": [f"{shops.url}/usd", f"{shops.url}/chf"], "alertThreshold": 1300, "currency": "chf"},
                   tool_context)
    usd, chf = result["pages"]
    assert result["currency"] == "CHF" and result["alerted"] == [f"{shops.url}/chf"]
    assert chf["reasons"] == ["below the threshold of 1300.00 CHF"] and chf["price"] == 1299.5
    assert usd["note"] == "not comparable: the price is in USD, the threshold is in CHF"
    assert result["message"] == (f"1 of 2 watched pages need your attention:\n\n- {shops.url}/chf: now 1299.50 CHF,"
                                 " was no earlier reading; below the threshold of 1300.00 CHF\n")


def test_when_no_page_can_be_read_the_check_fails_naming_each(shops: Site, tool_context: ToolContext) -> None:
    with pytest.raises(ToolError, match=r"no page could be read: .*/gone: selector '\.price' matched nothing") as error:
        check({"urls": [f"{shops.url}/gone", f"127.0.0.1:{closed_port()}"], "timeoutMs": 500}, tool_context)
    assert not isinstance(error.value, TransientToolError)  # a changed page is not retried blindly


def test_when_every_page_is_unreachable_the_check_is_worth_a_retry(tool_context: ToolContext) -> None:
    with pytest.raises(TransientToolError, match=r"no page could be read: 127\.0\.0\.1:"):
        check({"urls": [f"127.0.0.1:{closed_port()}/a", f"http://127.0.0.1:{closed_port()}/b"]}, tool_context)


def test_screenshots_of_each_page(shops: Site, tool_context: ToolContext, tmp_path) -> None:
    tool_context.artifacts_dir = tmp_path
    result = check({"urls": [f"{shops.url}/usd", f"{shops.url}/eur"], "screenshot": True}, tool_context)
    shots = [p["screenshot"] for p in result["pages"]]
    assert [s["path"].rsplit("/", 1)[1] for s in shots] == ["screenshot-1.png", "screenshot-2.png"]
    assert all((tmp_path / "t-test" / s["path"].rsplit("/", 1)[1]).stat().st_size > 0 for s in shots)
