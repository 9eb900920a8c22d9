"""The browser tool's session machinery: Chromium per thread, egress on every request, state in ToolContext.

A session is rebuilt for every call from ToolContext.state (cookies, localStorage, URL,
unsubmitted form input) and saved back after it, so the next step may run in any worker.
It must never let a page reach an address the egress policy refuses, nor rely on a page
kept open from one call to the next.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar
from urllib.parse import urljoin

from playwright.sync_api import Browser, Route, WebSocketRoute, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from .base import ToolContext
from .config import setting
from .errors import EgressDenied, ToolError, TransientToolError

log = logging.getLogger("tools.browser")
T = TypeVar("T")

STATE_KEY = "browser"
DEFAULT_EXECUTABLE = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--dns-prefetch-disable",
    # WebRTC's UDP is not routed through Playwright, so it must not pick local addresses.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
]
VIEWPORT = {"width": 1280, "height": 720}
NAV_TIMEOUT_MS, ACTION_TIMEOUT_MS, MAX_TIMEOUT_MS = 15_000, 10_000, 60_000
MAX_REDIRECTS = 10
MAX_STORAGE_BYTES = 1024 * 1024
CALL_DEADLINE_S = 180


# Playwright's sync objects belong to the thread that made them, so each pool thread keeps
# its own Chromium; the pool is rebuilt after a fork because a child inherits no threads.
_local = threading.local()
_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(max_workers=4, thread_name_prefix="browser"))
        return _pool[1]


def _browser() -> Browser:
    """This thread's Chromium, launched on first use and again if it died."""
    browser = getattr(_local, "browser", None)
    if browser is not None and browser.is_connected():
        return browser
    if getattr(_local, "playwright", None) is not None:
        _quietly(_local.playwright.stop)
    executable = setting("AGENT_BROWSER_EXECUTABLE", DEFAULT_EXECUTABLE)
    if not os.access(executable, os.X_OK):
        raise ToolError(f"no Chromium at {executable}: install Debian's chromium or set AGENT_BROWSER_EXECUTABLE")
    _local.playwright = sync_playwright().start()
    _local.browser = _local.playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS, timeout=30_000)
    return _local.browser


def _quietly(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """For calls that fail harmlessly when the page is already closing."""
    with contextlib.suppress(PlaywrightError):
        fn(*args, **kwargs)


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__



class _Guard:
    """Checks every request of one browser context against the egress policy.

    Playwright does not route the hops of a redirect, so requests are fetched with
    redirects off: a main-frame redirect is handed back to the session to follow (so the
    page keeps its true URL), any other request's hops are checked and followed here.
    """

    def __init__(self, context: ToolContext):
        self.egress = context.egress
        self.main_frame: Any = None
        self.denied: str | None = None  # why a main-frame navigation was refused
        self.error: str | None = None  # why a main-frame request could not be fetched
        self.redirect: str | None = None  # where the main frame was redirected to

    def route(self, route: Route) -> None:
        request = route.request
        try:
            main = request.is_navigation_request() and request.frame == self.main_frame
        except PlaywrightError:  # a request without a frame (a worker's) is never the main frame
            main = False
        try:
            response = self._fetch(route, request.url, request.method, main)
        except EgressDenied as exc:
            self.denied = self.denied or (f"{request.url} ({exc})" if main else None)
            return _quietly(route.abort, "blockedbyclient")
        except (PlaywrightError, ToolError) as exc:
            self.error = first_line(exc) if main else self.error
            return _quietly(route.abort, "failed")
        if response is None:  # a placeholder page; the session goes on to the checked target
            return _quietly(route.fulfill, status=200, content_type="text/html", body="")
        _quietly(route.fulfill, response=response)

    def _fetch(self, route: Route, url: str, method: str, main: bool) -> Any:
        for _ in range(MAX_REDIRECTS + 1):
            self.egress.check_url(url)
            response = route.fetch(url=url, method=method, max_redirects=0, timeout=NAV_TIMEOUT_MS)
            location = response.headers.get("location")
            if not (300 <= response.status < 400 and location):
                return response
            url = urljoin(url, location)
            method = "GET" if response.status in (301, 302, 303) else method
            if main:
                self.redirect = url
                return None
        raise ToolError(f"more than {MAX_REDIRECTS} redirects")

    def websocket(self, ws: WebSocketRoute) -> None:
        try:
            self.egress.check_url(re.sub(r"^ws", "http", ws.url))
        except EgressDenied:
            return _quietly(ws.close, code=1008, reason="refused by the egress policy")
        ws.connect_to_server()


class Session:
    """One step's page: restored from ToolContext.state, saved back into it after the action."""

    def __init__(self, browser: Browser, context: ToolContext):
        self.context = context
        self.saved: dict[str, Any] = dict(context.state.get(STATE_KEY) or {})
        self.fills: list[list[str]] = [list(f) for f in self.saved.get("fills") or []]
        self.guard = _Guard(context)
        self.bctx = browser.new_context(
            storage_state=self.saved.get("storage") or None, viewport=VIEWPORT,  # type: ignore[arg-type]
            service_workers="block", accept_downloads=False,  # a service worker's fetches bypass routing
        )
        self.bctx.set_default_timeout(ACTION_TIMEOUT_MS)
        self.bctx.set_default_navigation_timeout(NAV_TIMEOUT_MS)
        self.bctx.route("**/*", self.guard.route)
        self.bctx.route_web_socket("**/*", self.guard.websocket)
        self.page = self.bctx.new_page()
        self.guard.main_frame = self.page.main_frame

    def open(self, url: str | None) -> None:
        """Go to `url`, or back to where the last step left off, re-typing unsubmitted input."""
        if url:
            self.fills = []
            self.goto(url)
            return
        saved_url = str(self.saved.get("url") or "")
        if not saved_url.startswith(("http://", "https://")):
            raise ToolError("no page is open in this task's browser yet: call browser.navigate first")
        self.goto(saved_url)
        for selector, value in self.fills:
            try:
                self.page.locator(selector).first.fill(value, timeout=2_000)
            except PlaywrightError:
                log.warning("could not re-type input into %r on %s", selector, saved_url)

    def goto(self, url: str, wait_until: str = "load", timeout_ms: int = NAV_TIMEOUT_MS) -> Any:
        first = url
        for hop in range(MAX_REDIRECTS + 1):
            try:
                self.context.egress.check_url(url)
            except EgressDenied as exc:
                if hop:
                    raise EgressDenied(f"{first} redirected to {url}, which the egress policy refuses: {exc}") from None
                raise
            self.guard.redirect = None
            try:
                response = self.page.goto(url, wait_until=wait_until, timeout=timeout_ms)  # type: ignore[arg-type]
            except PlaywrightError as exc:
                raise self._failure(url, exc, timeout_ms) from None
            if self.guard.redirect is None:
                return response
            url = self.guard.redirect
        raise ToolError(f"{first}: more than {MAX_REDIRECTS} redirects")

    def settle(self) -> None:
        """After a click or submit: wait for the page it led to and follow its redirects."""
        try:
            self.page.wait_for_load_state("load")
        except PlaywrightError as exc:
            raise self._failure(self.page.url, exc, NAV_TIMEOUT_MS) from None
        if self.guard.denied:
            raise EgressDenied(f"the page tried to navigate somewhere the egress policy refuses: {self.guard.denied}")
        if self.guard.redirect:
            self.goto(self.guard.redirect)

    def _failure(self, url: str, exc: PlaywrightError, timeout_ms: int) -> ToolError:
        if self.guard.denied:
            return EgressDenied(f"navigation to {url} was refused: {self.guard.denied}")
        if isinstance(exc, PlaywrightTimeout):
            return TransientToolError(f"{url} did not load within {timeout_ms} ms")
        return TransientToolError(f"{url} could not be loaded: {self.guard.error or first_line(exc)}")

    def wait_for(self, selector: str, state: str, timeout_ms: int) -> None:
        try:
            self.page.locator(selector).first.wait_for(state=state, timeout=timeout_ms)  # type: ignore[arg-type]
        except PlaywrightTimeout:
            if state == "attached":
                raise ToolError(f"selector {selector!r} matched nothing on {self.page.url}") from None
            raise ToolError(f"selector {selector!r} did not become {state} on {self.page.url}"
                            f" within {timeout_ms} ms") from None

    def save(self) -> None:
        url = self.page.url
        storage = self.bctx.storage_state()
        if len(json.dumps(storage)) > MAX_STORAGE_BYTES:  # a site's localStorage can be huge; cookies matter
            log.warning("browser storage over %d bytes: localStorage dropped, cookies kept", MAX_STORAGE_BYTES)
            storage = {**storage, "origins": []}
        self.context.state[STATE_KEY] = {
            "url": url,
            "storage": storage,
            "fills": self.fills if url == self.saved.get("url") else [],
            "screenshots": self.saved.get("screenshots", 0),
        }

    def close(self) -> None:
        _quietly(self.bctx.close)


def in_session(context: ToolContext, act: Callable[[Session], T], *, url: str | None = None,
                restore: bool = True) -> T:
    """Run `act` on this task's page in a browser thread; save the session only if it succeeds."""
    def job() -> T:
        session = Session(_browser(), context)
        try:
            if restore:
                session.open(url)
            result = act(session)
            session.save()
            return result
        except PlaywrightTimeout as exc:
            raise ToolError(f"browser timed out: {first_line(exc)}") from None
        except PlaywrightError as exc:
            raise ToolError(f"browser error: {first_line(exc)}") from None
        finally:
            session.close()

    try:
        return _executor().submit(job).result(timeout=CALL_DEADLINE_S)
    except FutureTimeout:
        raise TransientToolError(f"the browser did not answer within {CALL_DEADLINE_S} s") from None
