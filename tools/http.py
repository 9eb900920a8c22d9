"""http: GET/POST to web APIs under the egress policy, with time and size caps.

Every connection goes to the address the policy checked (tools.pinning). Redirects are
followed by hand so that every hop is checked, and credentials stay with their origin.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import requests
from pydantic import Field

from . import outbound_ids
from .base import SideEffect, Tool, ToolContext, ToolInput
from .config import setting
from .errors import ToolError, ToolInputError, TransientToolError
from .pinning import pinned_session

tool = Tool("http", "Make HTTP requests to APIs.")

MAX_REDIRECTS = 5
MAX_BATCH = 50
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
CREDENTIAL_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-subscription-token",
    "x-auth-token", "x-access-token",
})
# Custom names that look like credentials (X-Custom-Auth, X-Session-Token...) are dropped too.
_CREDENTIAL_NAME = re.compile(r"auth|token|secret|passw|key|session|cookie|signature|credential", re.I)


def _limits() -> tuple[int, int]:
    return setting("AGENT_HTTP_TIMEOUT_S", 15), setting("AGENT_HTTP_MAX_BYTES", 5 * 1024 * 1024)


def _read_capped(response: requests.Response, max_bytes: int) -> bytes:
    body = bytearray()
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > max_bytes:
            response.close()
            raise ToolError(f"response from {response.url} is larger than {max_bytes} bytes")
    return bytes(body)


def request(
    method: str, url: str, context: ToolContext, *, headers: dict[str, str] | None = None,
    body: Any = None, timeout_s: float | None = None, secret_headers: Iterable[str] = (),
) -> dict[str, Any]:
    """One request under the egress policy; returns status, headers and the decoded body.

    `secret_headers` names headers beyond the usual credentials that must not follow a
    redirect to another origin.
    """
    default_timeout, max_bytes = _limits()
    timeout = context.remaining(min(timeout_s or default_timeout, default_timeout * 4))  # the task's deadline
    headers = dict(headers or {})
    if method != "GET" and context.idempotency_key:
        headers.setdefault("Idempotency-Key", outbound_ids.idempotency_header(context.idempotency_key))
    origin, secret = None, tuple(secret_headers)
    with pinned_session(context.egress) as session:
        for _ in range(MAX_REDIRECTS + 1):
            # Scheme and host only: the host is resolved and checked as it is connected (tools.pinning).
            target = (urlsplit(url).scheme, *context.egress.check_target(url))
            origin = origin or target
            if target != origin:
                headers = without_credentials(headers, secret)
            response = _send(session, method, url, headers, body, timeout)
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                method = "GET" if response.status_code in (301, 302, 303) else method
                body = None if method == "GET" else body
                response.close()
                continue
            return _decode(method, url, response, max_bytes)
    raise ToolError(f"{method} {url}: more than {MAX_REDIRECTS} redirects")


def _send(session: requests.Session, method: str, url: str, headers: dict[str, str], body: Any,
          timeout: float) -> requests.Response:
    try:
        return session.request(method, url, headers=headers, timeout=timeout, allow_redirects=False, stream=True,
                               **({"json": body} if body is not None else {}))
    except requests.Timeout as exc:
        raise TransientToolError(f"{method} {url} timed out after {timeout}s") from exc
    except requests.ConnectionError as exc:
        raise TransientToolError(f"{method} {url} could not connect: {exc.__class__.__name__}") from exc


def without_credentials(headers: dict[str, str], secret: Iterable[str] = ()) -> dict[str, str]:
    """`headers` less anything that authenticates: what may be sent once scheme, host or port changed."""
    marked = {name.lower() for name in secret}

    def credential(name: str) -> bool:
        low = name.lower()
        return low in CREDENTIAL_HEADERS or low in marked or (
            low != "idempotency-key" and bool(_CREDENTIAL_NAME.search(low)))  # the retry key is no secret

    return {name: value for name, value in headers.items() if not credential(name)}


def _decode(method: str, url: str, response: requests.Response, max_bytes: int) -> dict[str, Any]:
    raw = _read_capped(response, max_bytes)
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    try:
        data: Any = json.loads(text) if text else None
    except ValueError:
        data = text
    status, headers = response.status_code, dict(response.headers)
    if status in TRANSIENT_STATUSES:
        raise TransientHTTPStatusError(f"{method} {url} answered {status}", status=status, headers=headers)
    if status >= 400:
        raise HTTPStatusError(f"{method} {url} answered {status}: {text[:300]}", status=status, headers=headers)
    # `content` is the raw bytes, for callers that decode themselves (a spreadsheet, a CSV in cp1252)
    return {"status": status, "url": url, "body": data, "headers": headers, "content": raw}


class HTTPStatusError(ToolError):
    """An error status; callers for whom one is an answer (a 404 "no match") read status and headers."""

    def __init__(self, message: str, *, status: int = 0, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


class TransientHTTPStatusError(TransientToolError, HTTPStatusError):
    """408, 429, 5xx: retried like any transient error; Retry-After is in headers."""


class GetInput(ToolInput):
    url: str = Field(description="Absolute http(s) URL", max_length=2048)
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0, alias="timeoutS")


class PostInput(GetInput):
    body: Any = None


class BatchInput(ToolInput):
    urls: list[str] = Field(default_factory=list, max_length=MAX_BATCH)
    ids: list[int | str] = Field(
        default_factory=list, max_length=MAX_BATCH,
        description="Ids substituted into urlTemplate's {id}; Hacker News item ids when urlTemplate is absent",
    )
    url_template: str | None = Field(default=None, alias="urlTemplate", max_length=2048)
    headers: dict[str, str] = Field(default_factory=dict)
    method: Literal["GET"] = "GET"


@tool.action("get", credits=5)
def get(params: GetInput, context: ToolContext) -> Any:
    """GET a URL; the result is the decoded body (JSON when the response is JSON)."""
    return request("GET", params.url, context, headers=params.headers, timeout_s=params.timeout_s)["body"]


@tool.action("post", side_effect=SideEffect.WRITE, credits=10)
def post(params: PostInput, context: ToolContext) -> Any:
    """POST a JSON body to a URL; carries the step's Idempotency-Key header."""
    return request("POST", params.url, context, headers=params.headers, body=params.body,
                   timeout_s=params.timeout_s)["body"]


@tool.action("getBatch", credits=20)
def get_batch(params: BatchInput, context: ToolContext) -> list[Any]:
    """GET many URLs in parallel (at most 50); results come back in the order asked."""
    urls = list(params.urls)
    if params.ids:
        hacker_news = setting("HACKERNEWS_API_URL", "https://hacker-news.firebaseio.com/v0").rstrip("/")
        template = params.url_template or f"{hacker_news}/item/{{id}}.json"
        if "{id}" not in template:
            raise ToolInputError("urlTemplate must contain {id}")
        urls += [template.replace("{id}", str(item_id)) for item_id in params.ids]
    if not urls:
        raise ToolInputError("http.getBatch needs urls or ids")
    if len(urls) > MAX_BATCH:
        raise ToolInputError(f"http.getBatch takes at most {MAX_BATCH} URLs, got {len(urls)}")
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        return list(pool.map(lambda u: request("GET", u, context, headers=params.headers)["body"], urls))
