"""A scripted fake of Anthropic's Messages API, served over loopback HTTP for the real SDK.

Tests queue replies (or give a responder) and read back every request the SDK sent.
It answers only `POST /v1/messages`, never streams, and never reaches the network.

Faithful to the SDK's expectations (anthropic 2.14): JSON bodies of the documented
shapes, a `request-id` header, errors as {"type": "error", "error": {...}}; the SDK
retries 408/409/429/5xx unless `x-should-retry: false`, and waits `retry-after-ms`
(or `retry-after`) when positive, else 0.5 s, 1 s, 2 s ... of backoff.
"""
from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

MESSAGES_PATH = "/v1/messages"

# How the API names each error status (docs: "HTTP errors").
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _estimate_tokens(value: Any) -> int:
    """A deterministic stand-in for token counting: about four characters a token."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return max(1, math.ceil(len(text) / 4))


@dataclass(frozen=True)
class Reply:
    """One scripted answer: an HTTP status, a JSON body and extra headers.

    In a 200 body, `model` None is filled with the requested model and `usage` token
    counts left None are estimated from the request and the reply's content.
    `delay` seconds pass before the answer is sent (for client timeout tests).
    """

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def render(self, request_json: dict[str, Any] | None) -> dict[str, Any]:
        body = json.loads(json.dumps(self.body))  # a fresh copy per request
        if self.status == 200 and body.get("type") == "message":
            request_json = request_json or {}
            if body.get("model") is None:
                body["model"] = request_json.get("model", "")
            usage = body["usage"]
            if usage.get("input_tokens") is None:
                prompt = [request_json.get(k) for k in ("system", "messages", "tools")]
                usage["input_tokens"] = _estimate_tokens(prompt)
            if usage.get("output_tokens") is None:
                usage["output_tokens"] = _estimate_tokens(body["content"])
        return body


# -- content blocks and replies -----------------------------------------------------

def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def tool_use_block(name: str, input: dict[str, Any], *, id: str | None = None) -> dict[str, Any]:
    return {"type": "tool_use", "id": id or _new_id("toolu"), "name": name, "input": dict(input)}


def reply_message(
    *blocks: dict[str, Any], stop_reason: str | None = None, input_tokens: int | None = None,
    output_tokens: int | None = None, model: str | None = None, headers: dict[str, str] | None = None,
    delay: float = 0.0,
) -> Reply:
    """A 200 message made of the given content blocks (the general form of the two below)."""
    if stop_reason is None:
        stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    body = {
        "id": _new_id("msg"), "type": "message", "role": "assistant", "model": model,
        "content": list(blocks), "stop_reason": stop_reason, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
    return Reply(200, body, dict(headers or {}), delay)


def reply_text(
    text: str, *, input_tokens: int | None = None, output_tokens: int | None = None,
    stop_reason: str = "end_turn", **kwargs: Any,
) -> Reply:
    """A final answer: one text block, `end_turn` unless told otherwise (e.g. `max_tokens`)."""
    return reply_message(text_block(text), stop_reason=stop_reason, input_tokens=input_tokens,
                         output_tokens=output_tokens, **kwargs)


def reply_tool_use(
    name: str, input: dict[str, Any], *, text: str = "", id: str | None = None,
    input_tokens: int | None = None, output_tokens: int | None = None, **kwargs: Any,
) -> Reply:
    """The model asks for one tool: an optional text block, then the tool_use block."""
    blocks = ([text_block(text)] if text else []) + [tool_use_block(name, input, id=id)]
    return reply_message(*blocks, stop_reason="tool_use", input_tokens=input_tokens,
                         output_tokens=output_tokens, **kwargs)


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message},
            "request_id": _new_id("req")}


def reply_error(
    status: int, error_type: str | None = None, message: str = "scripted error", *,
    retry_after: float | None = None, should_retry: bool | None = None, delay: float = 0.0,
) -> Reply:
    """An API error. `retry_after` (seconds, may be fractional) is sent as `retry-after-ms`
    and a whole-second `retry-after`; `should_retry` sets `x-should-retry`.

    The SDK ignores a retry-after of 0 and falls back to its 0.5 s+ backoff: for fast
    tests use a small positive value such as 0.001.
    """
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["retry-after-ms"] = str(round(retry_after * 1000))
        headers["retry-after"] = str(math.ceil(retry_after))
    if should_retry is not None:
        headers["x-should-retry"] = "true" if should_retry else "false"
    return Reply(status, error_body(error_type or ERROR_TYPES.get(status, "api_error"), message),
                 headers, delay)


# -- what was received --------------------------------------------------------------

@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    json: Any  # None when the body was not JSON
    status: int = 0  # the status the fake answered with
    received_at: float = field(default_factory=time.monotonic)

    @property
    def api_key(self) -> str | None:
        """The credential the client sent: `x-api-key`, or a Bearer token (what SDK 2.14 sends)."""
        if "x-api-key" in self.headers:
            return self.headers["x-api-key"]
        auth = self.headers.get("authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.json or {}).get("messages") or [])

    def tool_results(self) -> list[dict[str, Any]]:
        """Every tool_result block in the conversation sent, oldest first."""
        return [block for message in self.messages if isinstance(message.get("content"), list)
                for block in message["content"] if block.get("type") == "tool_result"]


Responder = Callable[[dict[str, Any]], "Reply | None"]


def validate_messages_request(body: Any) -> str | None:
    """The documented request rules the fake enforces; returns the API's error message or None."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    for key in ("model", "max_tokens", "messages"):
        if key not in body:
            return f"{key}: Field required"
    if not isinstance(body["model"], str) or not body["model"]:
        return "model: Input should be a valid string"
    if not isinstance(body["max_tokens"], int) or isinstance(body["max_tokens"], bool) or body["max_tokens"] < 1:
        return "max_tokens: Input should be a positive integer"
    if body.get("stream"):
        return "stream: the fake Messages API does not stream"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for n, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{n}.role: Input should be 'user' or 'assistant'"
        if "content" not in message:
            return f"messages.{n}.content: Field required"
    for n, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or "name" not in tool:
            return f"tools.{n}.name: Field required"
        if "type" not in tool and "input_schema" not in tool:
            return f"tools.{n}.input_schema: Field required"
    return _check_tool_pairing(messages)


def _blocks(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == kind]


def _check_tool_pairing(messages: list[dict[str, Any]]) -> str | None:
    """Every tool_use is answered by a tool_result in the next message, and vice versa."""
    for n, message in enumerate(messages):
        if message["role"] == "assistant":
            uses = {b.get("id") for b in _blocks(message, "tool_use")}
            if not uses or n + 1 == len(messages):
                continue  # a trailing assistant turn is a prefill
            answered = {b.get("tool_use_id") for b in _blocks(messages[n + 1], "tool_result")}
            missing = sorted(str(i) for i in uses - answered)
            if missing:
                return (f"messages.{n + 1}: `tool_use` ids were found without `tool_result` blocks "
                        f"immediately after: {', '.join(missing)}. Each `tool_use` block must have "
                        "a corresponding `tool_result` block in the next message.")
        else:
            results = {b.get("tool_use_id") for b in _blocks(message, "tool_result")}
            previous = messages[n - 1] if n else {}
            known = {b.get("id") for b in _blocks(previous, "tool_use")} if previous else set()
            unexpected = sorted(str(i) for i in results - known)
            if unexpected:
                return (f"messages.{n}.content: unexpected `tool_use_id` found in `tool_result` "
                        f"blocks: {', '.join(unexpected)}. Each `tool_result` block must have a "
                        "corresponding `tool_use` block in the previous message.")
    return None


# -- the server -----------------------------------------------------------------------

class FakeAnthropic:
    """A running fake: `url` is the base URL for the SDK; `requests` lists what arrived.

    Each `POST /v1/messages` that passes auth and validation is answered by
    `responder(request_json)` when that returns a Reply, else by the next queued reply;
    with neither it answers 500 (with `x-should-retry: false`, so the SDK does not
    retry) naming the request. Invalid requests get the API's 400 without using a reply.
    """

    def __init__(self, *, api_key: str | None = None, responder: Responder | None = None) -> None:
        self.api_key = api_key  # None: any credential is accepted, but one is required
        self.responder = responder
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []  # exceptions raised by the responder
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # scripting
    def enqueue(self, *replies: Reply) -> Self:
        with self._lock:
            self._queue.extend(replies)
        return self

    @property
    def pending(self) -> int:
        """Queued replies not yet used."""
        with self._lock:
            return len(self._queue)

    @property
    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == MESSAGES_PATH]

    # lifecycle
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # answering
    def _answer(self, record: RecordedRequest) -> Reply:
        if record.path != MESSAGES_PATH:
            return reply_error(404, "not_found_error", f"Not found: {record.method} {record.path}")
        if record.method != "POST":
            return reply_error(405, "invalid_request_error", f"Method {record.method} not allowed")
        if record.api_key is None:
            return reply_error(401, "authentication_error", "x-api-key header is required")
        if self.api_key is not None and record.api_key != self.api_key:
            return reply_error(401, "authentication_error", "invalid x-api-key")
        if "anthropic-version" not in record.headers:
            return reply_error(400, "invalid_request_error", "anthropic-version: header is required")
        problem = validate_messages_request(record.json)
        if problem:
            return reply_error(400, "invalid_request_error", problem)
        if self.responder is not None:
            try:
                reply = self.responder(record.json)
            except Exception as exc:  # any responder bug must reach the test, via the SDK and self.errors
                self.errors.append(exc)
                return reply_error(500, "api_error", f"FakeAnthropic responder raised {exc!r}",
                                   should_retry=False)
            if reply is not None:
                return reply
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        number = len(self.message_requests)
        return reply_error(500, "api_error", f"FakeAnthropic: script exhausted, no reply queued for "
                           f"request #{number} to {MESSAGES_PATH}", should_retry=False)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAnthropic
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read fake.requests
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = self.path.split("?", 1)[0]
        record = RecordedRequest(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body)
        with self.fake._lock:
            self.fake.requests.append(record)
        if raw and body is None:
            reply = reply_error(400, "invalid_request_error", "request body is not valid JSON")
        else:
            reply = self.fake._answer(record)
        record.status = reply.status
        if reply.delay:
            time.sleep(reply.delay)
        payload = json.dumps(reply.render(body if isinstance(body, dict) else None)).encode()
        self.send_response(reply.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", _new_id("req"))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    # http.server dispatches on these names
    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()
