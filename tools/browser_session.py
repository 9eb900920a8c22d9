"""The browser tool's session machinery: Chromium per thread, requests fetched on pinned connections, state kept.

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
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http.cookiejar import Cookie
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from playwright.sync_api import Browser, BrowserContext, Request, Route, WebSocketRoute, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from . import browser_launch
from .base import ToolContext
from .config import setting
from .errors import EgressDenied, ToolError, TransientToolError
from .http import without_credentials
from .pinning import pinned_session
from .sealing import unseal

log = logging.getLogger("tools.browser")
T = TypeVar("T")

STATE_KEY = "browser"
DEFAULT_EXECUTABLE = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--dns-prefetch-disable",
    # WebRTC's UDP is not routed through Playwright, so it must not pick local addresses.
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    # Chromium's own network goes nowhere: every request is fetched by the Guard, so anything
    # Chromium would connect to itself (preconnects, websockets, WebRTC over TCP) meets a proxy
    # on a closed, privileged port, loopback included, and no name resolves inside Chromium.
    "--proxy-server=http://127.0.0.1:1", "--proxy-bypass-list=<-loopback>", "--host-resolver-rules=MAP * ~NOTFOUND",
]
VIEWPORT = {"width": 1280, "height": 720}
NAV_TIMEOUT_MS, ACTION_TIMEOUT_MS, MAX_TIMEOUT_MS = 15_000, 10_000, 60_000
MAX_REDIRECTS = 10
MAX_STORAGE_BYTES = 1024 * 1024
MAX_RESOURCE_BYTES = 32 * 1024 * 1024
# Request headers the pinned session sets itself; response headers that no longer describe the body.
UNFORWARDED = frozenset({"host", "cookie", "content-length", "connection", "keep-alive", "transfer-encoding", "te",
                         "upgrade", "proxy-authorization", "proxy-connection", "accept-encoding"})
UNRETURNED = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"})
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
        _local.launch.remove()
    executable = setting("AGENT_BROWSER_EXECUTABLE", DEFAULT_EXECUTABLE)
    if not os.access(executable, os.X_OK):
        raise ToolError(f"no Chromium at {executable}: install Debian's chromium or set AGENT_BROWSER_EXECUTABLE")
    _local.playwright = sync_playwright().start()
    try:
        _local.browser, _local.launch = browser_launch.start(_local.playwright, executable, LAUNCH_ARGS)
    except BaseException:
        _quietly(_local.playwright.stop)
        _local.playwright = None
        raise
    return _local.browser


def isolation() -> dict[str, Any]:
    """How this thread's Chromium is kept apart from the worker (account, sandbox, environment)."""
    return _local.launch.isolation()


def _quietly(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """For calls that fail harmlessly when the page is already closing."""
    with contextlib.suppress(PlaywrightError):
        fn(*args, **kwargs)


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__



class _Guard:
    """Fetches every request of one browser context itself, through the egress policy's pinned session.

    Chromium never connects anywhere (LAUNCH_ARGS send its own network to a dead proxy):
    each request is routed here, sent by tools.pinning to the address the policy checked
    (so a name that rebinds between lookups cannot lead inside), and fulfilled with the
    answer. Redirects are not followed by the session: a main-frame redirect is handed back
    to the Session to follow (so the page keeps its true URL), any other request's hops are
    checked and followed here. Cookies come from, and go back to, the browser context.
    """

    def __init__(self, context: ToolContext):
        self.egress = context.egress
        self.http = pinned_session(context.egress)
        self.bctx: BrowserContext | None = None
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
            answer = self._fetch(request, main)
        except EgressDenied as exc:
            self.denied = self.denied or (f"{request.url} ({exc})" if main else None)
            return _quietly(route.abort, "blockedbyclient")
        except (PlaywrightError, ToolError, requests.RequestException) as exc:
            self.error = first_line(exc) if main else self.error
            return _quietly(route.abort, "failed")
        if answer is None:  # a placeholder page; the session goes on to the checked target
            return _quietly(route.fulfill, status=200, content_type="text/html", body="")
        response, body = answer
        _quietly(route.fulfill, status=response.status_code, headers=_answer_headers(response), body=body)

    def _fetch(self, request: Request, main: bool) -> tuple[requests.Response, bytes] | None:
        url, method, body = request.url, request.method, request.post_data_buffer
        headers = {k: v for k, v in request.headers.items() if k.lower() not in UNFORWARDED}
        for _ in range(MAX_REDIRECTS + 1):
            self.egress.check_target(url)  # the host is resolved and checked as it is connected
            response, content = self._send(method, url, headers, body)
            location = response.headers.get("location")
            if not (300 <= response.status_code < 400 and location):
                return response, content
            self._keep_cookies(response)  # a hop's cookies: nobody fulfills it, so store them here
            url, previous = urljoin(url, location), url
            if urlsplit(url)[:2] != urlsplit(previous)[:2]:  # another origin: no credentials (as Chromium does)
                headers = without_credentials(headers)
            if response.status_code in (301, 302, 303) and method != "HEAD":
                method, body = "GET", None
            if main:
                self.redirect = url
                return None
        raise ToolError(f"more than {MAX_REDIRECTS} redirects")

    def _send(self, method: str, url: str, headers: dict[str, str],
              body: bytes | None) -> tuple[requests.Response, bytes]:
        """One request on the pinned session with the context's cookies; the answer and its capped body."""
        assert self.bctx is not None
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in self.bctx.cookies([url]))
        answer = self.http.request(method, url, headers={**headers, **({"Cookie": cookie} if cookie else {})},
                                   data=body, allow_redirects=False, stream=True, timeout=NAV_TIMEOUT_MS / 1000)
        with answer:
            content = bytearray()
            for chunk in answer.iter_content(64 * 1024):
                content += chunk
                if len(content) > MAX_RESOURCE_BYTES:
                    raise ToolError(f"{url} is larger than {MAX_RESOURCE_BYTES} bytes")
        return answer, bytes(content)

    def _keep_cookies(self, answer: requests.Response) -> None:
        jar = requests.cookies.RequestsCookieJar()
        requests.cookies.extract_cookies_to_jar(jar, answer.request, answer.raw)
        cookies = [_playwright_cookie(c) for c in jar]
        if cookies and self.bctx is not None:
            self.bctx.add_cookies(cookies)  # type: ignore[arg-type]

    def websocket(self, ws: WebSocketRoute) -> None:
        # Chromium would open the socket itself, resolving the name again: refuse them all.
        _quietly(ws.close, code=1008, reason="websockets are not opened by the browser tool")

    def close(self) -> None:
        self.http.close()


def _answer_headers(answer: requests.Response) -> dict[str, str]:
    """The response's headers for route.fulfill: the body is decoded, and Set-Cookie lines stay apart."""
    headers: dict[str, list[str]] = {}
    for name, value in answer.raw.headers.items():
        if name.lower() not in UNRETURNED:
            headers.setdefault(name.lower(), []).append(value)
    return {name: ("\n" if name == "set-cookie" else ", ").join(values) for name, values in headers.items()}


def _playwright_cookie(cookie: Cookie) -> dict[str, Any]:
    same_site = str(cookie.get_nonstandard_attr("SameSite") or "Lax").capitalize()
    return {
        "name": cookie.name, "value": cookie.value or "", "domain": cookie.domain, "path": cookie.path or "/",
        "expires": float(cookie.expires) if cookie.expires else -1, "secure": bool(cookie.secure),
        "httpOnly": cookie.has_nonstandard_attr("HttpOnly"),
        "sameSite": same_site if same_site in {"Strict", "Lax", "None"} else "Lax",
    }


class Session:
    """One step's page: restored from ToolContext.state, saved back into it after the action."""

    def __init__(self, browser: Browser, context: ToolContext):
        self.context = context
        self.saved: dict[str, Any] = dict(context.state.get(STATE_KEY) or {})
        self.fills: list[list[Any]] = [list(f) for f in self.saved.get("fills") or []]
        self.guard = _Guard(context)
        self.bctx = browser.new_context(
            storage_state=self.saved.get("storage") or None, viewport=VIEWPORT,  # type: ignore[arg-type]
            service_workers="block", accept_downloads=False,  # a service worker's fetches bypass routing
        )
        self.bctx.set_default_timeout(context.remaining_ms(ACTION_TIMEOUT_MS))  # within the task's deadline
        self.bctx.set_default_navigation_timeout(context.remaining_ms(NAV_TIMEOUT_MS))
        self.bctx.route("**/*", self.guard.route)
        self.bctx.route_web_socket("**/*", self.guard.websocket)
        self.guard.bctx = self.bctx
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
                self.page.locator(selector).first.fill(unseal(value), timeout=2_000)
            except PlaywrightError:
                log.warning("could not re-type input into %r on %s", selector, saved_url)

    def goto(self, url: str, wait_until: str = "load", timeout_ms: int = NAV_TIMEOUT_MS) -> Any:
        first = url
        for hop in range(MAX_REDIRECTS + 1):
            try:
                self.context.egress.check_target(url)  # the address is checked by the Guard as it connects
            except EgressDenied as exc:
                if hop:
                    raise EgressDenied(f"{first} redirected to {url}, which the egress policy refuses: {exc}") from None
                raise
            self.guard.redirect = None
            try:
                response = self.page.goto(url, wait_until=wait_until,  # type: ignore[arg-type]
                                          timeout=self.context.remaining_ms(timeout_ms))
            except PlaywrightError as exc:
                raise self._failure(url, exc, timeout_ms, first if hop else None) from None
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

    def _failure(self, url: str, exc: PlaywrightError, timeout_ms: int, first: str | None = None) -> ToolError:
        if self.guard.denied and first:
            return EgressDenied(f"{first} redirected to {url}, which the egress policy refuses: {self.guard.denied}")
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
        self.guard.close()


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

    limit_s = context.remaining(CALL_DEADLINE_S)  # before submitting: no job starts past the deadline
    try:
        return _executor().submit(job).result(timeout=limit_s)
    except FutureTimeout:
        raise TransientToolError(f"the browser did not answer within {CALL_DEADLINE_S} s") from None
