"""The browser tool against a real Chromium and real pages served on loopback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from PIL import Image

from tools import browser
from tools.base import ToolContext
from tools.egress import EgressPolicy
from tools.errors import EgressDenied, ToolError

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]

PAGES = {
    "/shop": """<title>Shop</title><h1>Widget</h1><span class="price">$19.99</span>
        <ul><li><a class="item" href="/items/1">One</a></li><li><a class="item" href="/items/2">Two</a></li>
        <li><a class="item" href="/items/3">Three</a></li></ul>""",
    "/late": """<title>Late</title><div id="root">loading</div>
        <script>setTimeout(() => { const d = document.createElement('div'); d.id = 'late';
        d.textContent = 'Built by JavaScript'; document.body.appendChild(d); }, 400);</script>""",
    "/signin": """<title>Sign in</title><form id="signin" method="post" action="/submit">
        <input name="user"><input name="pw" type="password"><button type="submit">Go</button></form>""",
    "/form": """<title>Contact</title><form id="contact" method="post" action="/submit">
        <input name="name"><textarea name="message"></textarea><button type="submit">Send</button></form>""",
    "/thanks": "<title>Thanks</title><p id='done'>Thanks, we got it</p>",
    "/tall": "<title>Tall</title><div style='height:2400px;background:linear-gradient(red,blue)'>tall</div>",
}


@dataclass
class Site:
    """A small website on one loopback address that records what it was asked."""

    host: str
    requests: list[dict] = field(default_factory=list)
    redirect_to: str = ""

    def __post_init__(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                site.record(self, "")
                if self.path == "/login":
                    cookie = {"Set-Cookie": "session=abc123; Path=/; HttpOnly"}
                    return self.reply(200, "<title>In</title><p>signed in</p>", cookie)
                if self.path == "/hop":  # a redirect hop that sets a cookie, then a page that sets two
                    return self.reply(302, "", {"Location": "/two-cookies", "Set-Cookie": "hop=1; Path=/"})
                if self.path == "/two-cookies":
                    self.send_response(200)
                    for cookie in ("a=1; Path=/", "b=2; Path=/; HttpOnly"):
                        self.send_header("Set-Cookie", cookie)
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                if self.path == "/whoami":
                    return self.reply(200, f"<title>Me</title><p id='who'>{self.headers.get('Cookie') or 'nobody'}</p>")
                if self.path == "/away":
                    return self.reply(302, "", {"Location": site.redirect_to})
                if self.path == "/links":
                    return self.reply(200, f"<title>Links</title><a id='out' href='{site.redirect_to}'>out</a>")
                if self.path == "/sneaky-image":
                    return self.reply(200, "<title>Img</title><img src='/img'><p id='ok'>page</p>")
                if self.path == "/img":
                    return self.reply(302, "", {"Location": site.redirect_to})
                if self.path in PAGES:
                    return self.reply(200, PAGES[self.path])
                self.reply(404, "<title>Not found</title>")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                site.record(self, body)
                self.reply(303, "", {"Location": "/thanks"})  # post/redirect/get, as real sites do

            def reply(self, status: int, html: str, headers: dict[str, str] | None = None) -> None:
                data = html.encode()
                self.send_response(status)
                for name, value in {"Content-Type": "text/html; charset=utf-8", **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.url = f"http://{self.host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, handler: BaseHTTPRequestHandler, body: str) -> None:
        self.requests.append({"method": handler.command, "path": handler.path, "body": body,
                              "cookie": handler.headers.get("Cookie"), "host": handler.headers.get("Host")})

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site("127.0.0.1")
    yield server
    server.close()


@pytest.fixture
def other_site() -> Iterator[Site]:
    server = Site("127.0.0.2")  # all of 127.0.0.0/8 is loopback on Linux
    yield server
    server.close()


@pytest.fixture
def ctx(tool_context: ToolContext, tmp_path: Path) -> ToolContext:
    tool_context.artifacts_dir = tmp_path / "artifacts"
    return tool_context


def run(action: str, params: dict, context: ToolContext):
    return browser.tool.actions[action].run(params, context)


def test_navigate_then_extract_a_price(site: Site, ctx: ToolContext) -> None:
    page = run("navigate", {"url": f"{site.url}/shop"}, ctx)
    assert page["status"] == 200 and page["title"] == "Shop" and page["url"] == f"{site.url}/shop"
    assert page["loadTimeMs"] >= 0
    assert run("extract", {"selector": ".price"}, ctx) == "$19.99"


def test_extract_an_attribute_and_every_match(site: Site, ctx: ToolContext) -> None:
    run("navigate", {"url": f"{site.url}/shop"}, ctx)
    assert run("extract", {"selector": "a.item", "attribute": "href"}, ctx) == "/items/1"
    assert run("extract", {"selector": "a.item", "all": True}, ctx) == ["One", "Two", "Three"]
    assert run("extract", {"selector": "a.item", "attribute": "href", "all": True}, ctx) == [
        "/items/1", "/items/2", "/items/3"]


def test_content_built_by_javascript_after_load(site: Site, ctx: ToolContext) -> None:
    run("navigate", {"url": f"{site.url}/late"}, ctx)
    waited = run("waitFor", {"selector": "#late", "timeoutMs": 5000}, ctx)
    assert waited["selector"] == "#late" and waited["url"] == f"{site.url}/late"
    assert run("extract", {"selector": "#late"}, ctx) == "Built by JavaScript"


def test_wait_for_an_element_that_never_comes(site: Site, ctx: ToolContext) -> None:
    run("navigate", {"url": f"{site.url}/late"}, ctx)
    with pytest.raises(ToolError, match="#never"):
        run("waitFor", {"selector": "#never", "timeoutMs": 300}, ctx)


def test_fill_and_submit_a_form_across_steps(site: Site, ctx: ToolContext) -> None:
    run("navigate", {"url": f"{site.url}/form"}, ctx)
    run("fill", {"selector": "input[name=name]", "value": "Ada Lovelace"}, ctx)
    run("fill", {"selector": "textarea[name=message]", "value": "Hello & welcome"}, ctx)
    result = run("submit", {"selector": "form#contact"}, ctx)

    posts = [r for r in site.requests if r["method"] == "POST"]
    assert len(posts) == 1 and posts[0]["path"] == "/submit"
    assert parse_qs(posts[0]["body"]) == {"name": ["Ada Lovelace"], "message": ["Hello & welcome"]}
    assert result == {"url": f"{site.url}/thanks", "title": "Thanks"}
    assert run("text", {}, ctx) == "Thanks, we got it"


def test_a_password_typed_into_a_form_is_secret_and_sealed_in_the_tool_state(site: Site, ctx: ToolContext) -> None:
    run("navigate", {"url": f"{site.url}/signin"}, ctx)
    assert "secret" not in run("fill", {"selector": "input[name=user]", "value": "ada"}, ctx)
    assert run("fill", {"selector": "input[name=pw]", "value": "hunter2-pass"}, ctx)["secret"] is True
    assert ctx.secrets == {"hunter2-pass"}, "the executor masks it wherever it appears"
    assert "hunter2-pass" not in json.dumps(ctx.state), "kept sealed until the form is submitted"
    run("submit", {"selector": "form#signin"}, ctx)
    [post] = [r for r in site.requests if r["method"] == "POST"]
    assert parse_qs(post["body"]) == {"user": ["ada"], "pw": ["hunter2-pass"]}


def test_click_follows_a_link(site: Site, ctx: ToolContext) -> None:
    run("navigate", {"url": f"{site.url}/shop"}, ctx)
    result = run("click", {"selector": "text=Two"}, ctx)
    assert result["url"] == f"{site.url}/items/2" and result["title"] == "Not found"
    assert site.paths()[-1] == "/items/2"


def test_session_cookie_survives_into_another_process(site: Site, ctx: ToolContext, tmp_path: Path) -> None:
    run("navigate", {"url": f"{site.url}/login"}, ctx)
    saved = json.loads(json.dumps(ctx.state))  # what the executor stores with the step

    script = """
import json, sys
from tools import browser
from tools.base import ToolContext
from tools.egress import EgressPolicy
state = json.load(sys.stdin)
ctx = ToolContext(task_id="t-test", egress=EgressPolicy.from_entries(["127.0.0.0/8"]), state=state)
out = browser.tool.actions["navigate"].run({"url": sys.argv[1] + "/whoami"}, ctx)
who = browser.tool.actions["extract"].run({"selector": "#who"}, ctx)
print(json.dumps({"pid": __import__("os").getpid(), "who": who, "state": ctx.state}))
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "xantuus.settings"}
    done = subprocess.run([sys.executable, "-c", script, site.url], input=json.dumps(saved), capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])

    assert answer["pid"] != os.getpid()
    assert answer["who"] == "session=abc123"
    assert next(r["cookie"] for r in site.requests if r["path"] == "/whoami") == "session=abc123"
    assert answer["state"]["browser"]["url"] == f"{site.url}/whoami"


def test_cookies_set_on_a_redirect_hop_and_several_on_one_page_are_all_kept(site: Site, ctx: ToolContext) -> None:
    run("navigate", {"url": f"{site.url}/hop"}, ctx)
    assert run("extract", {"selector": "#who", "url": f"{site.url}/whoami"}, ctx) == "hop=1; a=1; b=2"


def test_screenshot_is_a_real_png_of_the_stated_size(site: Site, ctx: ToolContext) -> None:
    run("navigate", {"url": f"{site.url}/tall"}, ctx)
    first = run("screenshot", {}, ctx)
    full = run("screenshot", {"fullPage": True}, ctx)

    assert first["path"].endswith("t-test/screenshot-1.png") and full["path"].endswith("screenshot-2.png")
    with Image.open(first["path"]) as image:
        assert image.format == "PNG" and image.size == (first["width"], first["height"]) == (1280, 720)
    with Image.open(full["path"]) as image:
        assert image.size == (full["width"], full["height"]) and full["height"] >= 2400


def test_selector_that_matches_nothing_is_an_error_the_agent_can_read(site: Site, ctx: ToolContext) -> None:
    run("navigate", {"url": f"{site.url}/shop"}, ctx)
    with pytest.raises(ToolError, match=r"selector '\.discount' matched nothing on http://127\.0\.0\.1:\d+/shop"):
        run("extract", {"selector": ".discount", "timeoutMs": 300}, ctx)


def test_acting_before_any_page_is_open_says_so(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="navigate first"):
        run("text", {}, ctx)


def test_loopback_is_refused_unless_allow_listed(site: Site) -> None:
    context = ToolContext(task_id="t-deny", egress=EgressPolicy())
    with pytest.raises(EgressDenied, match=r"127\.0\.0\.1"):
        run("navigate", {"url": f"{site.url}/shop"}, context)
    assert site.requests == []


def test_redirect_to_a_refused_host_is_refused(site: Site, other_site: Site) -> None:
    site.redirect_to = f"{other_site.url}/secret"
    context = ToolContext(task_id="t-redirect", egress=EgressPolicy.from_entries(["127.0.0.1/32"]))
    with pytest.raises(EgressDenied, match=r"127\.0\.0\.2"):
        run("navigate", {"url": f"{site.url}/away"}, context)
    assert site.paths() == ["/away"] and other_site.requests == []


def test_subresource_redirect_to_a_refused_host_is_blocked(site: Site, other_site: Site) -> None:
    site.redirect_to = f"{other_site.url}/metadata"  # the page's image, /img, redirects there
    context = ToolContext(task_id="t-sub", egress=EgressPolicy.from_entries(["127.0.0.1/32"]))
    assert run("extract", {"selector": "#ok", "url": f"{site.url}/sneaky-image"}, context) == "page"
    assert "/img" in site.paths() and other_site.requests == []


def test_clicking_a_link_to_a_refused_host_is_refused_and_the_page_stays(site: Site, other_site: Site) -> None:
    site.redirect_to = f"{other_site.url}/admin"
    context = ToolContext(task_id="t-click", egress=EgressPolicy.from_entries(["127.0.0.1/32"]))
    run("navigate", {"url": f"{site.url}/links"}, context)
    with pytest.raises(EgressDenied, match=r"127\.0\.0\.2:\d+/admin"):
        run("click", {"selector": "#out"}, context)
    assert other_site.requests == []
    assert run("text", {}, context) == "out"  # the next step is still on the page the click left from


# --- DNS rebinding: the browser connects to the address the policy checked (issue 16) -------------


def test_the_browser_connects_to_the_checked_address_with_the_hosts_name(other_site: Site, monkeypatch) -> None:
    """shop.test is known only to the policy's resolver: Chromium could not have looked it up itself."""
    from tests.fakes.rebinding import ALLOWED, RebindingDNS

    RebindingDNS("shop.test", [ALLOWED]).patch(monkeypatch)
    context = ToolContext(task_id="t-pin", egress=EgressPolicy.from_entries([f"{ALLOWED}/32"]))
    url = f"http://shop.test:{other_site.url.rsplit(':', 1)[1]}"
    assert run("extract", {"selector": ".price", "url": f"{url}/shop"}, context) == "$19.99"
    assert [(r["path"], r["host"]) for r in other_site.requests] == [("/shop", url.removeprefix("http://"))]


def test_dns_rebinding_cannot_lead_the_browser_inside(monkeypatch) -> None:
    """rebind.test answers 127.0.0.2 (allowed) first, then 127.0.0.3 (internal) to every later lookup."""
    from tests.fakes.rebinding import ALLOWED, INTERNAL, RebindingDNS, twin_servers

    allowed, internal = twin_servers()
    allowed.pages["/"] = (200, {}, "<title>Hi</title><p id='who'>allowed</p><img src='/pixel.png'>")
    dns = RebindingDNS("rebind.test", [ALLOWED, INTERNAL])
    dns.patch(monkeypatch)
    context = ToolContext(task_id="t-rebind", egress=EgressPolicy.from_entries([f"{ALLOWED}/32"]))
    try:
        assert run("extract", {"selector": "#who", "url": f"http://rebind.test:{allowed.port}/"}, context) == "allowed"
        with pytest.raises(EgressDenied, match=r"rebind\.test resolves to 127\.0\.0\.3"):
            run("navigate", {"url": f"http://rebind.test:{allowed.port}/"}, context)
    finally:
        allowed.close()
        internal.close()
    assert dns.lookups[0] == ALLOWED and INTERNAL in dns.lookups  # the image's lookup was the rebound one
    assert [r["path"] for r in allowed.requests] == ["/"]
    assert internal.requests == []


def test_chromium_opens_no_connection_of_its_own(site: Site, ctx: ToolContext) -> None:
    """Preconnects and websockets would be opened by Chromium itself, resolving and connecting outside
    the Guard's pinning: none get out, even to an allow-listed address (the suite allows 127.0.0.0/8)."""
    import socket

    listener = socket.create_server(("127.0.0.3", 0))
    listener.settimeout(0.2)
    target = f"127.0.0.3:{listener.getsockname()[1]}"
    PAGES["/sockets"] = (f"<title>Sockets</title><link rel='preconnect' href='http://{target}'>"
                         f"<script>const ws = new WebSocket('ws://{target}/live');"
                         "ws.onclose = () => document.title = 'closed';</script>")
    try:
        run("navigate", {"url": f"{site.url}/sockets"}, ctx)
        run("waitFor", {"selector": "title", "state": "attached", "timeoutMs": 2000}, ctx)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        PAGES.pop("/sockets")
        listener.close()
