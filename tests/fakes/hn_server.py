"""A local server speaking the Hacker News Firebase API's JSON shapes (topstories, item/{id}).

It can fail on purpose: `fail_next[path] = [503, 503]` answers those statuses first.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def sample_stories(count: int = 8) -> list[dict[str, Any]]:
    return [
        {"id": 9000 + n, "type": "story", "by": f"user{n}", "score": 500 - n * 10, "descendants": n * 3,
         "time": 1790000000 + n, "title": f"Story number {n}", "url": f"https://example.org/{n}"}
        for n in range(1, count + 1)
    ]


class FakeHackerNews:
    def __init__(self, stories: list[dict[str, Any]] | None = None):
        self.stories = stories if stories is not None else sample_stories()
        self.requests: list[str] = []
        self.fail_next: dict[str, list[int]] = {}
        self.delays: dict[str, float] = {}  # path prefix -> seconds to wait before answering
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v0"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.removeprefix("/v0")
        with self.lock:
            self.requests.append(path)  # recorded on arrival, so a test can act while it is in flight
            failures = self.fail_next.get(path)
            status = failures.pop(0) if failures else None
        time.sleep(next((s for prefix, s in self.delays.items() if path.startswith(prefix)), 0))
        if status:
            return self._send(request, status, {"error": "injected failure"})
        if path == "/topstories.json":
            return self._send(request, 200, [story["id"] for story in self.stories])
        if path.startswith("/item/") and path.endswith(".json"):
            item_id = path[len("/item/"):-len(".json")]
            story = next((s for s in self.stories if str(s["id"]) == item_id), None)
            return self._send(request, 200, story)  # the real API answers null for unknown ids
        return self._send(request, 404, {"error": "Permission denied"})

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def __enter__(self) -> FakeHackerNews:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
