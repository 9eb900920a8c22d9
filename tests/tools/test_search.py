"""search tool against real local HTTP servers speaking each provider's documented shape."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tools.errors import EgressDenied, ToolError
from tools.search import tool

HN_ITEMS = {
    101: {"id": 101, "type": "story", "by": "ann", "title": "Show HN: A Postgres-backed agent engine",
          "url": "https://example.com/agents", "score": 250, "time": 1_700_000_000},
    102: {"id": 102, "type": "story", "by": "bob", "title": "Ask HN: Favourite <b>Rust</b> crates?",
          "text": "Looking for <i>ideas</i> &amp; tips", "score": 90, "time": 1_700_003_600},
    103: None,  # a deleted item answers null
    104: {"id": 104, "type": "story", "by": "cy", "title": "Agent frameworks compared",
          "url": "https://example.com/compare", "score": 40, "time": 1_700_007_200},
}

REDDIT_LISTING = {"kind": "Listing", "data": {"after": None, "children": [
    {"kind": "t3", "data": {"title": "We shipped our AI agent", "url": "https://blog.example.com/shipped",
                            "permalink": "/r/startups/comments/abc/we_shipped/", "score": 512,
                            "created_utc": 1_700_010_000.0, "selftext": "", "subreddit": "startups"}},
    {"kind": "t3", "data": {"title": "How do you find leads?", "url": None,
                            "permalink": "/r/startups/comments/def/leads/", "score": 33,
                            "created_utc": 1_699_990_000.0, "selftext": "Asking for a friend.",
                            "subreddit": "startups"}},
]}}

GOOGLE_NEWS_RSS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
<generator>NFE/5.0</generator><title>"ai agents" - Google News</title><link>https://news.google.com/</link>
<item><title>AI agents take over the office - The Daily</title>
<link>https://news.google.com/rss/articles/CBMiAAA?oc=5</link>
<guid isPermaLink="false">CBMiAAA</guid><pubDate>Wed, 15 Nov 2023 08:30:00 GMT</pubDate>
<description>&lt;a href="https://news.google.com/rss/articles/CBMiAAA"&gt;AI agents take over the office&lt;/a&gt;
&amp;nbsp;&amp;nbsp;&lt;font color="#6f6f6f"&gt;The Daily&lt;/font&gt;</description>
<source url="https://daily.example.com">The Daily</source></item>
<item><title>Regulators look at agents - Wire</title><link>https://news.google.com/rss/articles/CBMiBBB?oc=5</link>
<pubDate>Tue, 14 Nov 2023 20:00:00 GMT</pubDate><description>Regulators look at agents</description></item>
</channel></rss>"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<rss version="2.0"><channel><item><title>&lol2;</title><link>https://x.example</link></item></channel></rss>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><title>x &xxe;</title><link>https://x.example</link></item></channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>Agents in Atom</title><link href="https://atom.example/1"/><id>urn:1</id>
<updated>2023-11-16T10:00:00Z</updated><summary type="html">Summary in &lt;b&gt;bold&lt;/b&gt;</summary></entry>
</feed>"""

ALGOLIA = {"hits": [
    {"objectID": "76", "title": "AI agents in production", "url": "https://example.com/prod", "author": "ann",
     "points": 321, "num_comments": 40, "created_at": "2023-11-14T22:13:20Z", "created_at_i": 1_700_000_000,
     "story_text": None, "_tags": ["story", "author_ann", "story_76"]},
    {"objectID": "77", "title": "Ask HN: Are AI agents useful?", "url": None, "author": "bob", "points": 12,
     "num_comments": 3, "created_at": "2023-11-14T23:13:20Z", "created_at_i": 1_700_003_600,
     "story_text": "<p>Curious what works</p>", "_tags": ["story", "ask_hn"]},
], "nbHits": 2, "page": 0, "nbPages": 1, "hitsPerPage": 5, "query": "ai agents"}

BRAVE_RESPONSE = {"type": "search", "query": {"original": "agent engine"}, "web": {"type": "search", "results": [
    {"title": "Agent engines explained", "url": "https://docs.example.com/engines",
     "description": "How an <strong>agent engine</strong> runs steps.", "page_age": "2023-11-01T10:00:00"},
    {"title": "Celery patterns", "url": "https://celery.example.org/patterns", "description": "Thin tasks."},
]}}


class FakeServer:
    """A real HTTP server on 127.0.0.1; routes map a path to (status, content type, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, str]] = {}
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                fake.requests.append({"path": parts.path, "query": parse_qs(parts.query),
                                      "headers": dict(self.headers)})
                status, ctype, body = fake.routes.get(parts.path, (404, "text/plain", "not found"))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def json(self, path: str, body: Any, status: int = 200) -> None:
        self.routes[path] = (status, "application/json; charset=utf-8", json.dumps(body))

    def xml(self, path: str, body: str) -> None:
        self.routes[path] = (200, "application/xml; charset=utf-8", body)


@pytest.fixture
def server():
    fake = FakeServer()
    fake.thread.start()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


@pytest.fixture
def providers(server, settings):
    settings.HACKERNEWS_API_URL = f"{server.url}/v0"
    settings.REDDIT_API_URL = server.url
    settings.GOOGLE_NEWS_RSS_URL = f"{server.url}/rss/search"
    settings.WEB_SEARCH_API_URL = f"{server.url}/res/v1/web/search"
    settings.WEB_SEARCH_API_KEY = "brave-test-key"
    server.json("/v0/topstories.json", [101, 102, 103, 104])
    for item_id, item in HN_ITEMS.items():
        server.json(f"/v0/item/{item_id}.json", item)
    server.json("/r/startups/top.json", REDDIT_LISTING)
    server.json("/search.json", REDDIT_LISTING)
    server.xml("/rss/search", GOOGLE_NEWS_RSS)
    server.json("/res/v1/web/search", BRAVE_RESPONSE)
    return server


def run(action: str, params: dict[str, Any], context) -> Any:
    return tool.actions[action].run(params, context)


def test_hackernews_top_stories_are_normalized(providers, tool_context):
    results = run("hackernews", {"count": 3}, tool_context)["results"]
    assert results == [
        {"title": "Show HN: A Postgres-backed agent engine", "url": "https://example.com/agents",
         "snippet": "", "score": 250, "time": "2023-11-14T22:13:20Z", "source": "hackernews"},
        {"title": "Ask HN: Favourite <b>Rust</b> crates?", "url": "https://news.ycombinator.com/item?id=102",
         "snippet": "Looking for ideas & tips", "score": 90, "time": "2023-11-14T23:13:20Z", "source": "hackernews"},
    ]


def test_hackernews_keywords_filter_titles(providers, tool_context):
    results = run("hackernews", {"keywords": ["AGENT"], "count": 5}, tool_context)["results"]
    assert [r["url"] for r in results] == ["https://example.com/agents", "https://example.com/compare"]


def test_reddit_subreddit_listing(providers, tool_context):
    results = run("reddit", {"subreddit": "startups", "count": 5}, tool_context)["results"]
    assert results[0] == {"title": "We shipped our AI agent", "url": "https://blog.example.com/shipped",
                          "snippet": "", "score": 512, "time": "2023-11-15T01:00:00Z", "source": "reddit"}
    # A self post without a link points at its permalink.
    assert results[1]["url"] == f"{providers.url}/r/startups/comments/def/leads/"
    assert results[1]["snippet"] == "Asking for a friend."
    asked = providers.requests[-1]
    assert asked["path"] == "/r/startups/top.json" and asked["query"]["t"] == ["day"]
    assert asked["headers"]["User-Agent"].startswith("xantuus-agent")


def test_reddit_search_query(providers, tool_context):
    results = run("reddit", {"query": "ai agents", "count": 1}, tool_context)["results"]
    assert [r["title"] for r in results] == ["We shipped our AI agent"]
    assert providers.requests[-1]["query"]["q"] == ["ai agents"]


def test_google_news_rss(providers, tool_context):
    results = run("google_news", {"query": "ai agents"}, tool_context)["results"]
    assert results == [
        {"title": "AI agents take over the office - The Daily",
         "url": "https://news.google.com/rss/articles/CBMiAAA?oc=5",
         "snippet": "AI agents take over the office The Daily",
         "score": None, "time": "2023-11-15T08:30:00Z", "source": "google_news"},
        {"title": "Regulators look at agents - Wire", "url": "https://news.google.com/rss/articles/CBMiBBB?oc=5",
         "snippet": "Regulators look at agents", "score": None, "time": "2023-11-14T20:00:00Z",
         "source": "google_news"},
    ]
    assert providers.requests[-1]["query"] == {"q": ["ai agents"], "hl": ["en-US"], "gl": ["US"], "ceid": ["US:en"]}


def test_web_search_sends_key_and_normalizes(providers, tool_context):
    results = run("web", {"query": "agent engine", "count": 5}, tool_context)["results"]
    assert results == [
        {"title": "Agent engines explained", "url": "https://docs.example.com/engines",
         "snippet": "How an agent engine runs steps.", "score": None, "time": "2023-11-01T10:00:00Z",
         "source": "web"},
        {"title": "Celery patterns", "url": "https://celery.example.org/patterns", "snippet": "Thin tasks.",
         "score": None, "time": None, "source": "web"},
    ]
    asked = providers.requests[-1]
    assert asked["headers"]["X-Subscription-Token"] == "brave-test-key"
    assert asked["query"] == {"q": ["agent engine"], "count": ["5"]}


def test_web_search_without_key_is_a_clear_error(providers, tool_context, settings):
    settings.WEB_SEARCH_API_KEY = ""
    with pytest.raises(ToolError, match="WEB_SEARCH_API_KEY"):
        run("web", {"query": "anything"}, tool_context)
    assert providers.requests == []


def test_multi_merges_sorts_and_reports_failed_sources(providers, tool_context):
    providers.routes.pop("/rss/search")  # Google News answers 404
    out = run("multi", {"keywords": ["agent"], "sources": ["hackernews", "reddit", "google_news", "web"]},
              tool_context)
    times = [r["time"] for r in out["results"]]
    assert {r["source"] for r in out["results"]} == {"hackernews", "reddit", "web"}
    assert times == sorted(times, key=lambda t: (t is not None, t or ""), reverse=True)
    assert out["results"][0]["title"] == "We shipped our AI agent"  # newest first
    assert len({r["url"] for r in out["results"]}) == len(out["results"])
    assert [e["source"] for e in out["errors"]] == ["google_news"] and "404" in out["errors"][0]["error"]


def test_multi_sorted_by_score(providers, tool_context):
    out = run("multi", {"keywords": ["agent"], "sources": ["hackernews", "reddit"], "sortBy": "score"}, tool_context)
    assert [r["score"] for r in out["results"]] == [512, 250, 40, 33]


@pytest.mark.parametrize("path, body", [
    ("/v0/topstories.json", {"error": "Permission denied"}),
    ("/r/startups/top.json", {"kind": "Listing", "data": {"modhash": ""}}),
])
def test_malformed_json_is_a_clear_error(providers, tool_context, path, body):
    providers.json(path, body)
    action, params = ("hackernews", {}) if path.startswith("/v0") else ("reddit", {"subreddit": "startups"})
    with pytest.raises(ToolError, match=r"unexpected response from (Hacker News|reddit)"):
        run(action, params, tool_context)


def test_malformed_rss_is_a_clear_error(providers, tool_context):
    providers.xml("/rss/search", "<html><body>Sorry, unusual traffic</body>")
    with pytest.raises(ToolError, match="unexpected response from Google News"):
        run("google_news", {"query": "x"}, tool_context)


def test_entities_declared_in_a_dtd_are_never_expanded(providers, tool_context):
    providers.xml("/rss/search", BILLION_LAUGHS)
    [result] = run("google_news", {"query": "x"}, tool_context)["results"]
    assert "lol" not in result["title"].replace("&lol2;", "")  # the declaration was dropped, not expanded


def test_an_external_entity_is_never_read(providers, tool_context):
    providers.xml("/rss/search", XXE)
    [result] = run("google_news", {"query": "x"}, tool_context)["results"]
    assert "root:" not in result["title"]


def test_a_body_that_looks_like_a_url_is_not_fetched_by_the_feed_parser(providers, tool_context):
    providers.routes["/rss/search"] = (200, "text/plain", f"{providers.url}/secret")
    with pytest.raises(ToolError, match="not an RSS or Atom feed"):
        run("google_news", {"query": "x"}, tool_context)
    assert "/secret" not in [r["path"] for r in providers.requests]


def test_atom_feeds_are_read_too(providers, tool_context):
    providers.xml("/rss/search", ATOM)
    assert run("google_news", {"query": "x"}, tool_context)["results"] == [
        {"title": "Agents in Atom", "url": "https://atom.example/1", "snippet": "Summary in bold",
         "score": None, "time": "2023-11-16T10:00:00Z", "source": "google_news"}]


def test_hackernews_query_uses_the_search_api(providers, tool_context, settings):
    settings.HACKERNEWS_SEARCH_URL = f"{providers.url}/api/v1"
    providers.json("/api/v1/search", ALGOLIA)
    results = run("hackernews", {"query": "ai agents", "count": 5}, tool_context)["results"]
    assert results == [
        {"title": "AI agents in production", "url": "https://example.com/prod", "snippet": "", "score": 321,
         "time": "2023-11-14T22:13:20Z", "source": "hackernews"},
        {"title": "Ask HN: Are AI agents useful?", "url": "https://news.ycombinator.com/item?id=77",
         "snippet": "Curious what works", "score": 12, "time": "2023-11-14T23:13:20Z", "source": "hackernews"},
    ]
    assert providers.requests[-1]["query"] == {"query": ["ai agents"], "tags": ["story"], "hitsPerPage": ["5"]}


def test_loopback_is_refused_without_the_allowlist(server, settings):
    from tools.base import ToolContext
    from tools.egress import EgressPolicy

    settings.HACKERNEWS_API_URL = f"{server.url}/v0"
    with pytest.raises(EgressDenied):
        run("hackernews", {}, ToolContext(egress=EgressPolicy()))
    assert server.requests == []
