"""browser: a real headless Chromium (Playwright) that reads and acts on web pages for an agent.

Each action opens the task's page from ToolContext.state, acts, and saves the session back
(see browser_session). Every request, redirects included, passes the egress policy; this
module must never drive Chromium except through browser_session.
"""
from __future__ import annotations

import re
import struct
import time
from typing import Any, Literal

from playwright.sync_api import expect
from pydantic import Field

from .base import SideEffect, Tool, ToolContext, ToolInput
from .browser_session import ACTION_TIMEOUT_MS, MAX_TIMEOUT_MS, NAV_TIMEOUT_MS, Session, in_session, isolation
from .errors import ToolError
from .sealing import seal

tool = Tool("browser", "Drive a headless web browser: open pages, read them, fill and submit forms, take screenshots.")

MAX_TEXT_CHARS, MAX_ITEM_CHARS, MAX_ITEMS = 20_000, 2_000, 200
SUBMIT_BUTTONS = "button:not([type]), button[type=submit], input[type=submit], input[type=image]"
EXTRACT_JS = ("(els, [attr, max]) => els.slice(0, max).map("
              "e => attr === null ? (e.innerText ?? e.textContent) : e.getAttribute(attr))")
SOME_TEXT = re.compile(r"\S")  # what "has text" means: anything but whitespace


def _cap(value: Any, limit: int) -> Any:
    if not isinstance(value, str):
        return value
    value = value.strip()
    return value if len(value) <= limit else value[:limit] + f" ... [truncated {len(value) - limit} chars]"



class PageInput(ToolInput):
    url: str | None = Field(default=None, max_length=2048,
                            description="Open this URL first; otherwise act on the page the last step left open")


class NavigateInput(ToolInput):
    url: str = Field(description="Absolute http(s) URL", max_length=2048)
    wait_until: Literal["load", "domcontentloaded", "networkidle", "commit"] = Field(default="load", alias="waitUntil")
    timeout_ms: int = Field(default=NAV_TIMEOUT_MS, ge=1, le=MAX_TIMEOUT_MS, alias="timeoutMs")


class ExtractInput(PageInput):
    selector: str = Field(max_length=1000, description="CSS selector (Playwright selectors work too)")
    attribute: str | None = Field(default=None, max_length=200, description="Return this attribute, not the text")
    all_: bool = Field(default=False, alias="all", description=f"Return every match (at most {MAX_ITEMS}) as a list")
    timeout_ms: int = Field(default=5_000, ge=1, le=MAX_TIMEOUT_MS, alias="timeoutMs",
                            description="How long to wait for a first match that has text")


class SelectorInput(ToolInput):
    selector: str = Field(max_length=1000, description="CSS selector of the element")
    timeout_ms: int = Field(default=ACTION_TIMEOUT_MS, ge=1, le=MAX_TIMEOUT_MS, alias="timeoutMs")


class FillInput(SelectorInput):
    value: str = Field(max_length=100_000)
    secret: bool = Field(default=False, description="Mask the value in the trace (password inputs always are)")


class WaitForInput(SelectorInput):
    state: Literal["attached", "visible", "hidden", "detached"] = "visible"


class ScreenshotInput(PageInput):
    full_page: bool = Field(default=False, alias="fullPage", description="The whole scrollable page, not the viewport")


def _where(s: Session) -> dict[str, Any]:
    return {"url": s.page.url, "title": s.page.title()}


@tool.action("navigate", credits=10)
def navigate(params: NavigateInput, context: ToolContext) -> dict[str, Any]:
    """Open a URL in the task's browser; returns the final URL, HTTP status, title, load time and isolation."""
    def act(s: Session) -> dict[str, Any]:
        started = time.monotonic()
        response = s.goto(params.url, params.wait_until, params.timeout_ms)
        s.fills = []
        return {**_where(s), "status": response.status if response else None,
                "loadTimeMs": round((time.monotonic() - started) * 1000), "isolation": isolation()}

    return in_session(context, act, restore=False)


def read_values(s: Session, selector: str, attribute: str | None, all_: bool, timeout_ms: int) -> Any:
    """The text (or attribute) of the first match, or a list of every match's with all_.

    Waits, within timeout_ms in all, for a match to exist and then for the first one to
    have some text: a page's JavaScript often fills a price in after the element appears.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    s.wait_for(selector, "attached", timeout_ms)
    first = s.page.locator(selector).first
    left = max(1, round((deadline - time.monotonic()) * 1000))
    try:
        if attribute is None:
            expect(first).to_have_text(SOME_TEXT, use_inner_text=True, timeout=left)
        else:
            expect(first).to_have_attribute(attribute, SOME_TEXT, timeout=left)
    except AssertionError:  # expect's timeout: the element is there but still empty
        what = "text" if attribute is None else f"{attribute!r} value"
        raise ToolError(f"selector {selector!r} matched an element on {s.page.url} but it had no {what}"
                        f" within {timeout_ms} ms") from None
    values = s.page.locator(selector).evaluate_all(EXTRACT_JS, [attribute, MAX_ITEMS if all_ else 1])
    if all_:
        return [_cap(v, MAX_ITEM_CHARS) for v in values]
    return _cap(values[0], MAX_TEXT_CHARS)


@tool.action("extract", credits=20)
def extract(params: ExtractInput, context: ToolContext) -> Any:
    """Text (or an attribute) of the first element matching a CSS selector, or of all of them with all=true.

    Waits (up to timeoutMs) until the first match has text, for pages whose JavaScript fills it in.
    """
    def act(s: Session) -> Any:
        return read_values(s, params.selector, params.attribute, params.all_, params.timeout_ms)

    return in_session(context, act, url=params.url)


@tool.action("click", side_effect=SideEffect.WRITE, credits=20)
def click(params: SelectorInput, context: ToolContext) -> dict[str, Any]:
    """Click the first element matching a selector and wait for any page it leads to."""
    def act(s: Session) -> dict[str, Any]:
        s.wait_for(params.selector, "attached", params.timeout_ms)
        s.page.locator(params.selector).first.click(timeout=params.timeout_ms)
        s.settle()
        return _where(s)

    return in_session(context, act)


@tool.action("fill", side_effect=SideEffect.WRITE, credits=20)
def fill(params: FillInput, context: ToolContext) -> dict[str, Any]:
    """Type a value into an input or textarea; it is kept for the next step until the form is submitted."""
    def act(s: Session) -> dict[str, Any]:
        s.wait_for(params.selector, "attached", params.timeout_ms)
        field = s.page.locator(params.selector).first
        secret = params.secret or field.evaluate("e => (e.type || '').toLowerCase() === 'password'")
        if secret:  # masked in the trace, sealed in the tool state it is kept in until submitted
            context.mark_secret(params.value)
        field.fill(params.value, timeout=params.timeout_ms)
        kept: Any = seal(params.value) if secret else params.value
        s.fills = [f for f in s.fills if f[0] != params.selector] + [[params.selector, kept]]
        return {"url": s.page.url, "filled": params.selector, **({"secret": True} if secret else {})}

    return in_session(context, act)


@tool.action("submit", side_effect=SideEffect.WRITE, credits=20)
def submit(params: SelectorInput, context: ToolContext) -> dict[str, Any]:
    """Submit a form (by the form's selector or its button's) and wait for the page it leads to."""
    def act(s: Session) -> dict[str, Any]:
        s.wait_for(params.selector, "attached", params.timeout_ms)
        target = s.page.locator(params.selector).first
        if target.evaluate("e => e.tagName.toLowerCase()") == "form":
            button = target.locator(SUBMIT_BUTTONS).first
            if button.count():
                button.click(timeout=params.timeout_ms)
            else:  # a form without a button: submit it the way pressing Enter would
                with s.page.expect_navigation(timeout=params.timeout_ms):
                    target.evaluate("f => f.requestSubmit()")
        else:
            target.click(timeout=params.timeout_ms)
        s.settle()
        s.fills = []
        return _where(s)

    return in_session(context, act)


@tool.action("waitFor", credits=10)
def wait_for(params: WaitForInput, context: ToolContext) -> dict[str, Any]:
    """Wait until an element matching a selector appears (or reaches `state`) on the current page."""
    def act(s: Session) -> dict[str, Any]:
        started = time.monotonic()
        s.wait_for(params.selector, params.state, params.timeout_ms)
        return {"url": s.page.url, "selector": params.selector, "state": params.state,
                "waitedMs": round((time.monotonic() - started) * 1000)}

    return in_session(context, act)


def save_screenshot(s: Session, context: ToolContext, full_page: bool = False, *,
                    number: int | None = None) -> dict[str, Any]:
    """A PNG of the session's page in the task's artifacts folder: its path and size.

    `number` names it screenshot-N.png where steps that run at once each start from the same
    session (and so the same count); by default it is the one after the session's last."""
    last = int(s.saved.get("screenshots", 0))
    number = number if number is not None else last + 1
    folder = context.artifacts_dir / (re.sub(r"[^A-Za-z0-9_.-]", "_", context.task_id) or "no-task")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"screenshot-{number}.png"
    png = s.page.screenshot(path=str(path), full_page=full_page, timeout=MAX_TIMEOUT_MS)
    s.saved["screenshots"] = max(last, number)
    width, height = struct.unpack(">II", png[16:24])  # the PNG header's IHDR chunk
    return {"path": str(path), "width": width, "height": height}


@tool.action("screenshot", credits=20)
def screenshot(params: ScreenshotInput, context: ToolContext) -> dict[str, Any]:
    """Save a PNG of the page (the viewport, or the full page) and return its path and size."""
    return in_session(context, lambda s: save_screenshot(s, context, params.full_page), url=params.url)


@tool.action("text", credits=10)
def text(params: PageInput, context: ToolContext) -> str:
    """The page's visible text (capped at 20,000 characters)."""
    def act(s: Session) -> str:
        return _cap(s.page.evaluate("() => document.body ? document.body.innerText : ''"), MAX_TEXT_CHARS)

    return in_session(context, act, url=params.url)
