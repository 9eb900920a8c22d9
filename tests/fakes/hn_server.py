"""A local server speaking the Hacker News Firebase API's JSON shapes (topstories, item/{id}),
and the Algolia HN Search API's (`/api/v1/search?query=&tags=story&numericFilters=&hitsPerPage=`,
at `search_url`) over the same stories.

It can fail on purpose: `fail_next[path] = [503, 503]` answers those statuses first (for a
search, the path is `/api/v1/search?query=<the query>`).
"""
from __future__ import annotations

import json
import operator
import re
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

COMPARISONS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq}


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
        self.search_url = f"http://127.0.0.1:{self.server.server_port}/api/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.removeprefix("/v0")
        if path.startswith("/api/v1/search?"):
            query = parse_qs(urlsplit(path).query)
            path = f"/api/v1/search?query={quote(query.get('query', [''])[0])}"
        with self.lock:
            self.requests.append(path)  # recorded on arrival, so a test can act while it is in flight
            failures = self.fail_next.get(path)
            status = failures.pop(0) if failures else None
        time.sleep(next((s for prefix, s in self.delays.items() if path.startswith(prefix)), 0))
        if status:
            return self._send(request, status, {"error": "injected failure"})
        if path.startswith("/api/v1/search?"):
            return self._send(request, 200, self.search(parse_qs(urlsplit(request.path).query)))
        if path == "/topstories.json":
            return self._send(request, 200, [story["id"] for story in self.stories])
        if path.startswith("/item/") and path.endswith(".json"):
            item_id = path[len("/item/"):-len(".json")]
            story = next((s for s in self.stories if str(s["id"]) == item_id), None)
            return self._send(request, 200, story)  # the real API answers null for unknown ids
        return self._send(request, 404, {"error": "Permission denied"})

    def search(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """Algolia's answer: stories with every query word in the title, the numeric filters
        applied, most points first."""
        asked = set(re.findall(r"[a-z0-9]+", query.get("query", [""])[0].lower()))
        filters = [re.fullmatch(r"(\w+)(>=|<=|>|<|=)(-?\d+)", f.strip())
                   for f in ",".join(query.get("numericFilters", [])).split(",") if f.strip()]
        hits = [self._hit(s) for s in self.stories if asked <= set(re.findall(r"[a-z0-9]+", s["title"].lower()))]
        hits = [h for h in hits if all(m and COMPARISONS[m[2]](h.get(m[1]) or 0, int(m[3])) for m in filters)]
        hits.sort(key=lambda h: -(h["points"] or 0))
        per_page = int(query.get("hitsPerPage", ["20"])[0])
        return {"hits": hits[:per_page], "nbHits": len(hits), "page": 0, "nbPages": 1, "hitsPerPage": per_page,
                "query": query.get("query", [""])[0], "params": ""}

    @staticmethod
    def _hit(story: dict[str, Any]) -> dict[str, Any]:
        created = datetime.fromtimestamp(story["time"], tz=UTC).isoformat().replace("+00:00", "Z")
        return {"objectID": str(story["id"]), "title": story.get("title"), "url": story.get("url"),
                "author": story.get("by"), "points": story.get("score"), "num_comments": story.get("descendants"),
                "story_text": story.get("text"), "created_at": created, "created_at_i": story["time"],
                "_tags": ["story", f"author_{story.get('by')}", f"story_{story['id']}"]}

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
