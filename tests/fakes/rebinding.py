"""DNS rebinding on loopback: a name that answers one address first and another later.

`RebindingDNS` stands in for an attacker's DNS server (its answers change between lookups);
`Recorder` is a web server on one loopback address that records every request it gets, so
a test can show that the internal one (127.0.0.3) was never reached.
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ALLOWED, INTERNAL = "127.0.0.2", "127.0.0.3"  # the allow-list holds only 127.0.0.2/32


@dataclass
class RebindingDNS:
    """Answers `answers[n]` to the n-th lookup of `name` (the last one from then on)."""

    name: str
    answers: list[str]
    lookups: list[str] = field(default_factory=list)

    def __call__(self, host: str, port: int) -> list[str]:  # the shape of EgressPolicy's resolver
        return [self.next(host)] if host == self.name else [str(i[4][0]) for i in socket.getaddrinfo(host, port)]

    def next(self, host: str) -> str:
        answer = self.answers[min(len(self.lookups), len(self.answers) - 1)]
        self.lookups.append(answer)
        return answer

    def patch(self, monkeypatch: Any) -> None:
        """Answer through socket.getaddrinfo itself, so every library in the process sees it."""
        real: Callable[..., Any] = socket.getaddrinfo

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(host, bytes):
                host = host.decode()
            if str(host).lower().rstrip(".") != self.name:
                return real(host, port, *args, **kwargs)
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (self.next(host), int(port or 0)))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


class Recorder:
    """A web server on `host`:`port` recording each request's path, Host header and headers."""

    def __init__(self, host: str, port: int = 0, pages: dict[str, tuple[int, dict[str, str], str]] | None = None):
        self.requests: list[dict[str, Any]] = []
        self.pages = pages or {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.requests.append({"path": self.path, "host": self.headers.get("Host"),
                                          "headers": {k.lower(): v for k, v in self.headers.items()}})
                status, headers, body = recorder.pages.get(self.path, (200, {}, f"<p id='who'>{host}</p>"))
                data = body.encode()
                self.send_response(status)
                for name, value in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def twin_servers() -> tuple[Recorder, Recorder]:
    """An allowed server on 127.0.0.2 and an internal one on 127.0.0.3, on the same port."""
    for _ in range(20):
        allowed = Recorder(ALLOWED)
        try:
            return allowed, Recorder(INTERNAL, allowed.port)
        except OSError:  # the port is taken on 127.0.0.3: try another
            allowed.close()
    raise RuntimeError("no port free on both 127.0.0.2 and 127.0.0.3")
