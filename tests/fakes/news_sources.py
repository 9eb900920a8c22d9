"""A local server playing reddit's search (`/search.json?q=&t=&sort=&limit=`, the Listing JSON
shape) and Google News' RSS search (`/rss/search?q=&hl=&gl=&ceid=`, RSS 2.0 as Google writes it).

A post or article matches a query when its title holds every word of it. reddit honours
`t` (hour, day, week, month, year) like the real one; Google News ignores `when:7d`, as
the real one applies it only loosely, so old articles do come back. `fail[(path, query)] =
status` answers that status to that search (the query without `when:`).


    with FakeHackerNews([]) as hn, FakeNewsSites() as sites:
        a_week_of_ai_news(hn, sites)   # the research tests' week, relative to now
"""
from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

PERIODS = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 31 * 86400, "year": 366 * 86400}


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def plain(query: str) -> str:
    """The query without Google's operators: 'AI agents when:7d' -> 'AI agents'."""
    return " ".join(w for w in query.split() if not w.lower().startswith("when:"))


def _matches(title: str, query: str) -> bool:
    return words(plain(query)) <= words(title)


class FakeNewsSites:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []  # title, url, score, created (epoch s), selftext
        self.articles: list[dict[str, Any]] = []  # title, link, published (epoch s), description, publisher
        self.fail: dict[tuple[str, str], int] = {}
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.rss_url = f"{self.url}/rss/search"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        self.requests.append((parts.path, query))
        status = self.fail.get((parts.path, plain(query.get("q", [""])[0])))
        if status:
            return self._send(request, status, "application/json", json.dumps({"error": status}))
        if parts.path == "/search.json":
            return self._send(request, 200, "application/json; charset=UTF-8", json.dumps(self.listing(query)))
        if parts.path == "/rss/search":
            return self._send(request, 200, "application/xml; charset=utf-8", self.rss(query))
        return self._send(request, 404, "text/plain", "not found")

    def listing(self, query: dict[str, list[str]]) -> dict[str, Any]:
        since = time.time() - PERIODS.get(query.get("t", ["all"])[0], 10**10)
        found = [p for p in self.posts if _matches(p["title"], query.get("q", [""])[0]) and p["created"] >= since]
        children = [{"kind": "t3", "data": {
            "title": p["title"], "url": p.get("url"), "permalink": f"/r/{p.get('subreddit', 'technology')}/comments/"
            f"{n}/post/", "score": p.get("score", 1), "created_utc": float(p["created"]),
            "selftext": p.get("selftext", ""), "subreddit": p.get("subreddit", "technology")}}
            for n, p in enumerate(found[: int(query.get("limit", ["25"])[0])])]
        return {"kind": "Listing", "data": {"after": None, "dist": len(children), "children": children}}

    def rss(self, query: dict[str, list[str]]) -> str:
        asked = query.get("q", [""])[0]
        items = "".join(
            f"<item><title>{escape(a['title'])} - {escape(a['publisher'])}</title><link>{escape(a['link'])}</link>"
            f"<guid isPermaLink=\"false\">{n}</guid>"
            f"<pubDate>{format_datetime(datetime.fromtimestamp(a['published'], tz=UTC), usegmt=True)}</pubDate>"
            f"<description>{escape(a.get('description', ''))}</description>"
            f"<source url=\"https://{a['publisher'].lower().replace(' ', '')}.example\">{escape(a['publisher'])}"
            "</source></item>"
            for n, a in enumerate(self.articles) if _matches(a["title"], asked))
        return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><rss version="2.0" '
                'xmlns:media="http://search.yahoo.com/mrss/"><channel><generator>NFE/5.0</generator>'
                f"<title>&quot;{escape(asked)}&quot; - Google News</title><link>https://news.google.com/</link>"
                f"{items}</channel></rss>")

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def __enter__(self) -> FakeNewsSites:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


DAY = 86400


def a_week_of_ai_news(hn: Any, sites: FakeNewsSites, now: float | None = None) -> None:
    """The seed's weekly AI-automation research, as the three sources would answer it: stories
    inside the window and 8 days old, one story on HN and Google News (a utm_ link, another
    case), one on reddit and Google News (the same title, another link)."""
    now = now or time.time()
    hn.stories[:] = [
        {"id": 101, "type": "story", "by": "ann", "score": 420, "descendants": 120, "time": int(now - 1 * DAY),
         "title": "AI agents at work: what changed in 2026", "url": "https://blog.example.com/agents-at-work"},
        {"id": 102, "type": "story", "by": "bo", "score": 150, "descendants": 40, "time": int(now - 2 * DAY),
         "title": "Show HN: An open-source workflow automation engine", "url": "https://git.example/flowd"},
        {"id": 103, "type": "story", "by": "cy", "score": 35, "descendants": 9, "time": int(now - 3 * DAY),
         "title": "AI agents that book meetings for you", "url": "https://meet.example/agents"},
        {"id": 104, "type": "story", "by": "di", "score": 90, "descendants": 31, "time": int(now - 4 * DAY),
         "title": "AI agents for workflow automation, benchmarked", "url": "https://bench.example/agents"},
        {"id": 105, "type": "story", "by": "ed", "score": 999, "descendants": 400, "time": int(now - 8 * DAY),
         "title": "AI automation hype peaked", "url": "https://old.example/hype"},
    ]
    sites.posts[:] = [
        {"title": "Our AI automation stack for a five-person agency", "url": "https://agency.example/stack",
         "score": 870, "created": now - 2 * DAY, "subreddit": "automation",
         "selftext": "We automated invoicing and support triage with AI. Here is the whole setup."},
        {"title": "Is workflow automation worth it for small teams?", "url": None, "score": 60,
         "created": now - 5 * DAY, "subreddit": "smallbusiness",
         "selftext": "We are four people and the Zapier bill keeps growing. Worth it?"},
        {"title": "AI automation retrospective", "url": "https://old.example/retro", "score": 5000,
         "created": now - 8 * DAY},
    ]
    sites.articles[:] = [
        {"title": "AI automation reshapes back offices", "publisher": "Reuters", "published": now - 1 * DAY,
         "link": "https://news.google.com/rss/articles/CBMi-g1?oc=5",
         "description": "Banks and insurers move claims work to AI automation. Jobs shift."},
        {"title": "AI Agents at Work: What Changed in 2026", "publisher": "Example Blog", "published": now - 1 * DAY,
         "link": "https://Blog.Example.com/agents-at-work/?utm_source=google_news&utm_medium=rss"},
        {"title": "Is workflow automation worth it for small teams", "publisher": "Tech Weekly",
         "published": now - 4 * DAY, "link": "https://techweekly.example/workflow-worth-it"},
        {"title": "AI agents: eight days on", "publisher": "Wire", "published": now - 8 * DAY,
         "link": "https://wire.example/ai-agents-eight-days"},
    ]
