"""Which circuit breaker a tool call answers to: the one thing its transient failure says is broken.

A call to one host is keyed by the tool and that host, so a site that is down is held back
for everyone and no other site is. A named database connection is keyed by its name. Every
other call (an owner's Google account, a sandbox run, a batch over several hosts) is keyed
by the tool and the owner, so one owner's failures never delay anybody else.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

MAX_KEY = 300  # ToolCircuit.key's length
URL_FIELDS = ("url", "urls", "urlTemplate", "url_template")


def circuit_key(tool: str, params: Mapping[str, Any], owner_id: int | None, *, per_account: bool = False) -> str:
    """The key from the call's own input, computed before the call (`params` as the caller wrote them)."""
    connection = params.get("connection")
    if isinstance(connection, str) and connection.strip():
        return f"{tool}:{connection.strip()}"[:MAX_KEY]
    hosts = {_host(url) for url in _urls(params)}
    if not per_account and len(hosts) == 1 and None not in hosts:
        return f"{tool}:{hosts.pop()}"[:MAX_KEY]
    return f"{tool}:owner:{owner_id}"


def _urls(params: Mapping[str, Any]) -> list[Any]:
    urls: list[Any] = []
    for name in URL_FIELDS:
        value = params.get(name)
        urls += value if isinstance(value, list) else [value] if value is not None else []
    return urls


def _host(url: Any) -> str | None:
    """host[:port] of an absolute URL, lower-cased; None for anything else."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        return None
    if not host:
        return None
    return f"{host}:{port}" if port else host
