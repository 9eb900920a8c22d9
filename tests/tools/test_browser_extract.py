"""browser.extract waits for text, not just for the element: prices JavaScript fills in later."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.fakes.pages import Site, js_shop_page
from tools import browser
from tools.base import ToolContext
from tools.errors import ToolError

pytestmark = pytest.mark.browser


@pytest.fixture
def site(loopback_allowed) -> Iterator[Site]:
    pages = {"/late": js_shop_page("Late", "$1,299.00", delay_ms=300),
             "/empty": '<span class="price"> </span>',
             "/link": '<a class="buy" href="">buy</a>',
             "/link-late": '<a class="buy">buy</a><script>setTimeout(() =>'
                           ' document.querySelector(".buy").href = "/checkout", 300)</script>'}
    with Site(pages) as served:
        yield served


def extract(params: dict, context: ToolContext):
    return browser.tool.actions["extract"].run(params, context)


def test_extract_waits_for_text_javascript_writes_after_load(site: Site, tool_context: ToolContext) -> None:
    assert extract({"url": f"{site.url}/late", "selector": ".price"}, tool_context) == "$1,299.00"


def test_an_element_that_stays_empty_is_a_clear_error_within_the_timeout(site: Site,
                                                                          tool_context: ToolContext) -> None:
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"selector '\.price' matched an element on http://127\.0\.0\.1:\d+/empty"
                                        r" but it had no text within 600 ms"):
        extract({"url": f"{site.url}/empty", "selector": ".price", "timeoutMs": 600}, tool_context)
    assert time.monotonic() - started < 5


def test_an_attribute_is_waited_for_too(site: Site, tool_context: ToolContext) -> None:
    params = {"url": f"{site.url}/link-late", "selector": ".buy", "attribute": "href"}
    assert extract(params, tool_context) == "/checkout"
    with pytest.raises(ToolError, match="had no 'href' value within 400 ms"):
        extract({**params, "url": f"{site.url}/link", "timeoutMs": 400}, tool_context)
