"""http under the egress policy: loopback, private and metadata refused; redirects checked; caps."""
from __future__ import annotations

import dataclasses
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tools.base import ToolContext
from tools.egress import EgressPolicy
from tools.errors import EgressDenied, ToolError, ToolInputError, TransientToolError
from tools.http import tool
from tools.outbound_ids import idempotency_header


class Handler(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_GET(self) -> None:
        if self.path.startswith("/redirect-to/"):
            self.send_response(302)
            self.send_header("Location", "http://" + self.path.removeprefix("/redirect-to/"))
            self.end_headers()
            return
        if self.path == "/big":
            return self._send(200, b"x" * 200_000, "text/plain")
        if self.path == "/slow":
            threading.Event().wait(2)
        return self._send(200, json.dumps({"path": self.path, "host": self.headers["Host"]}).encode())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Handler.received.append({"body": json.loads(body), "key": self.headers.get("Idempotency-Key")})
        return self._send(201, b'{"created": true}')

    def _send(self, status: int, data: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def servers():
    """Two servers: 127.0.0.1 and 127.0.0.2 (both loopback, so policies can allow one and not the other)."""
    started = []
    for host in ("127.0.0.1", "127.0.0.2"):
        server = ThreadingHTTPServer((host, 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    yield [f"http://{s.server_address[0]}:{s.server_address[1]}" for s in started]
    for server in started:
        server.shutdown()
        server.server_close()


def context(*allowed: str) -> ToolContext:
    return ToolContext(task_id="t", idempotency_key="task:t:run:1:step:2",
                       egress=EgressPolicy.from_entries(list(allowed)))


def call(action: str, params: dict[str, Any], ctx: ToolContext) -> Any:
    return tool.actions[action].run(params, ctx)


def test_the_allow_list_the_suite_uses_lets_loopback_through(servers, tool_context):
    assert call("get", {"url": f"{servers[0]}/hello"}, tool_context)["path"] == "/hello"


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:1/", "127.0.0.1, a private, loopback or reserved address"),
    ("http://10.1.2.3/", "10.1.2.3, a private, loopback or reserved address"),
    ("http://192.168.0.10/", "private, loopback or reserved"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
    ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata address"),
    ("http://[::1]:8080/", "::1, a private"),
    ("http://[::ffff:127.0.0.1]/", "127.0.0.1, a private"),
    ("http://localhost:5432/", "private, loopback or reserved"),
    ("file:///etc/passwd", "only http and https URLs"),
    ("gopher://example.org/", "only http and https URLs"),
])
def test_private_loopback_and_metadata_addresses_are_refused(url, reason):
    with pytest.raises(EgressDenied) as error:
        call("get", {"url": url}, context())
    assert reason in str(error.value)


def test_a_hostname_that_resolves_to_a_private_address_is_refused(monkeypatch):
    """DNS is checked after resolution: a public-looking name pointing inside is refused."""
    real = socket.getaddrinfo

    def fake_dns(host, *args, **kwargs):  # stands in for an outside DNS server answering 10.0.0.7
        if host == "intranet.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    with pytest.raises(EgressDenied, match=r"intranet\.example\.com resolves to 10\.0\.0\.7"):
        call("get", {"url": "http://intranet.example.com/admin"}, context())


def test_a_redirect_to_a_refused_address_is_refused(servers):
    allowed_only_second = context("127.0.0.2/32")
    port_of_first = servers[0].rsplit(":", 1)[1]
    with pytest.raises(EgressDenied, match=r"127\.0\.0\.1, a private"):
        call("get", {"url": f"{servers[1]}/redirect-to/127.0.0.1:{port_of_first}/secret"}, allowed_only_second)
    assert call("get", {"url": f"{servers[1]}/ok"}, allowed_only_second)["path"] == "/ok"


def test_responses_over_the_size_cap_are_refused(servers, tool_context, settings):
    settings.AGENT_HTTP_MAX_BYTES = 100_000
    with pytest.raises(ToolError, match="larger than 100000 bytes"):
        call("get", {"url": f"{servers[0]}/big"}, tool_context)


def test_a_slow_server_times_out_as_a_transient_error(servers, tool_context):
    with pytest.raises(TransientToolError, match=r"timed out after 0\.5s"):
        call("get", {"url": f"{servers[0]}/slow", "timeoutS": 0.5}, tool_context)


def test_post_carries_the_steps_idempotency_key(servers, tool_context):
    Handler.received.clear()
    assert call("post", {"url": f"{servers[0]}/hook", "body": {"a": 1}}, tool_context) == {"created": True}
    assert Handler.received == [{"body": {"a": 1}, "key": idempotency_header("task:t-test:run:1:step:1")}]


def test_the_idempotency_key_is_stable_per_step_and_reveals_no_task_id(servers, tool_context):
    """The receiving server once read our task id and run number straight off the header."""
    Handler.received.clear()
    for _ in range(2):  # a retry of the same step
        call("post", {"url": f"{servers[0]}/hook", "body": {"a": 1}}, tool_context)
    next_step = dataclasses.replace(tool_context, idempotency_key="task:t-test:run:1:step:2")
    call("post", {"url": f"{servers[0]}/hook", "body": {"a": 1}}, next_step)

    first, retry, other = (received["key"] for received in Handler.received)
    assert first == retry != other
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert "t-test" not in first and "task" not in first and "step" not in first


def test_get_batch_keeps_order_and_fills_url_templates(servers, tool_context):
    out = call("getBatch", {"ids": [3, 1, 2], "urlTemplate": f"{servers[0]}/item/{{id}}.json"}, tool_context)
    assert [r["path"] for r in out] == ["/item/3.json", "/item/1.json", "/item/2.json"]
    with pytest.raises(ToolInputError, match="urlTemplate must contain"):
        call("getBatch", {"ids": [1], "urlTemplate": f"{servers[0]}/item"}, tool_context)
    with pytest.raises(ToolInputError, match="at most 50"):
        call("getBatch", {"urls": [f"{servers[0]}/x"] * 51}, tool_context)


# --- DNS rebinding and credentials on redirects (issue 16) ---------------------------------------


@pytest.fixture
def twins():
    from tests.fakes.rebinding import twin_servers

    allowed, internal = twin_servers()
    yield allowed, internal
    allowed.close()
    internal.close()


def test_dns_rebinding_cannot_reach_the_internal_address(twins, monkeypatch):
    """rebind.test answers 127.0.0.2 (allowed) to the first lookup and 127.0.0.3 (internal) after."""
    from tests.fakes.rebinding import ALLOWED, INTERNAL, RebindingDNS

    allowed, internal = twins
    dns = RebindingDNS("rebind.test", [ALLOWED, INTERNAL])
    dns.patch(monkeypatch)
    out = call("get", {"url": f"http://rebind.test:{allowed.port}/admin"}, context(f"{ALLOWED}/32"))
    assert out == f"<p id='who'>{ALLOWED}</p>"
    assert internal.requests == []
    assert [(r["path"], r["host"]) for r in allowed.requests] == [("/admin", f"rebind.test:{allowed.port}")]
    with pytest.raises(EgressDenied, match=r"rebind\.test resolves to 127\.0\.0\.3"):  # the next lookup
        call("get", {"url": f"http://rebind.test:{allowed.port}/admin"}, context(f"{ALLOWED}/32"))
    assert internal.requests == []


def test_credentials_do_not_follow_a_redirect_to_another_host(twins):
    allowed, other = twins
    allowed.pages["/same"] = (302, {"Location": "/landing"}, "")
    allowed.pages["/away"] = (302, {"Location": f"{other.url}/landing"}, "")
    secrets = {"Authorization": "Bearer s3cret", "X-Api-Key": "k-123", "Cookie": "sid=1", "X-Custom-Auth": "a-1"}
    ctx, headers = context("127.0.0.0/8"), {**secrets, "X-Tenant": "t-9", "Accept": "text/html"}
    assert call("get", {"url": f"{allowed.url}/same", "headers": headers}, ctx)
    assert allowed.requests[-1]["headers"]["authorization"] == "Bearer s3cret"  # same origin: kept

    assert call("get", {"url": f"{allowed.url}/away", "headers": headers}, ctx)
    assert allowed.requests[-1]["headers"]["x-api-key"] == "k-123"  # the first hop got them
    sent = other.requests[-1]["headers"]
    assert sent["accept"] == "text/html" and sent["x-tenant"] == "t-9"
    assert not {"authorization", "x-api-key", "cookie", "x-custom-auth"} & set(sent)

    from tools.http import request  # a caller may mark more headers secret

    request("GET", f"{allowed.url}/away", ctx, headers=headers, secret_headers=["X-Tenant"])
    assert "x-tenant" not in other.requests[-1]["headers"]


def test_the_web_search_key_stays_with_the_search_api(twins, settings):
    from tools.search import tool as search

    allowed, other = twins
    allowed.pages["/search?q=ada&count=3"] = (307, {"Location": f"{other.url}/search"}, "")
    other.pages["/search"] = (200, {"Content-Type": "application/json"}, '{"web": {"results": []}}')
    settings.WEB_SEARCH_API_URL, settings.WEB_SEARCH_API_KEY = f"{allowed.url}/search", "operator-key"
    assert search.actions["web"].run({"query": "ada", "count": 3}, context("127.0.0.0/8")) == {"results": []}
    assert allowed.requests[-1]["headers"]["x-subscription-token"] == "operator-key"
    assert "x-subscription-token" not in other.requests[-1]["headers"]
