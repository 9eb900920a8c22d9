"""search: find stories and pages for research agents (Hacker News, reddit, Google News, web).

Every provider's base URL comes from settings, every request goes through tools.http's
`request()` (egress policy, timeouts, size caps), and every result is normalized to
{title, url, snippet, score, time, source}. It only reads; it must never send an API key
anywhere but the configured web search endpoint, nor let a feed parser fetch anything itself.

Hacker News keyword search speaks the Algolia HN Search API (HACKERNEWS_SEARCH_URL, default
https://hn.algolia.com/api/v1): GET /search?query=&tags=story&numericFilters=created_at_i>T.

Web search speaks the Brave Search API shape: GET WEB_SEARCH_API_URL (default
https://api.search.brave.com/res/v1/web/search) with `q` and `count`, the key in the
X-Subscription-Token header, results under {"web": {"results": [...]}}.
"""
from __future__ import annotations

import calendar
import html
import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode

import feedparser
from pydantic import BaseModel, Field, ValidationError

from .base import Tool, ToolContext, ToolInput
from .config import setting
from .errors import ToolError
from .http import request

tool = Tool("search", "Search Hacker News, reddit, Google News and the web; results share one shape.")

MAX_COUNT = 50
HN_MAX_SCAN = 100  # items fetched at most when filtering by keywords
SNIPPET_CHARS = 300
USER_AGENT = "xantuus-agent/1.0 (research tool)"  # reddit refuses requests without one
Source = Literal["hackernews", "reddit", "google_news", "web"]


def _setting(name: str, default: str) -> str:
    return setting(name, default).rstrip("/")


def _iso(moment: datetime | float | None) -> str | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _text(markup: str | None) -> str:
    """HTML fragment -> plain, whitespace-collapsed snippet."""
    plain = html.unescape(re.sub(r"<[^>]+>", " ", markup or ""))
    return " ".join(plain.split())[:SNIPPET_CHARS]


def _result(source: str, title: str, url: str, snippet: str = "", score: float | None = None,
            time: str | None = None) -> dict[str, Any]:
    return {"title": title, "url": url, "snippet": snippet, "score": score, "time": time, "source": source}


def _matches(title: str, keywords: list[str]) -> bool:
    return not keywords or any(k.lower() in title.lower() for k in keywords)


def _parse(model: type[BaseModel], data: Any, what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ToolError(f"unexpected response from {what}: {exc.errors()[0]['msg']} "
                        f"at {'.'.join(map(str, exc.errors()[0]['loc'])) or '(top)'}") from None


# --- Hacker News (Firebase API: /topstories.json -> ids, /item/{id}.json -> item) ----------


class HackerNewsInput(ToolInput):
    feed: Literal["top", "new", "best"] = "top"
    count: int = Field(default=10, ge=1, le=MAX_COUNT)
    keywords: list[str] = Field(default_factory=list, description="Keep stories whose title has any of these")
    query: str | None = Field(default=None, min_length=1, max_length=512,
                              description="Search all stories (Algolia HN Search) instead of reading a feed")


class _HNIds(BaseModel):
    ids: list[int]


class _HNItem(BaseModel):
    id: int
    title: str = ""
    url: str | None = None
    text: str | None = None
    score: int | None = None
    time: int | None = None


def _hn_item(item: _HNItem) -> dict[str, Any]:
    link = item.url or f"https://news.ycombinator.com/item?id={item.id}"
    return _result("hackernews", item.title, link, _text(item.text), item.score, _iso(item.time))


def hackernews_stories(params: HackerNewsInput, context: ToolContext) -> list[dict[str, Any]]:
    base = _setting("HACKERNEWS_API_URL", "https://hacker-news.firebaseio.com/v0")
    body = request("GET", f"{base}/{params.feed}stories.json", context)["body"]
    ids = _parse(_HNIds, {"ids": body}, "Hacker News").ids
    ids = ids[: HN_MAX_SCAN if params.keywords else params.count]
    with ThreadPoolExecutor(max_workers=8) as pool:
        bodies = list(pool.map(lambda i: request("GET", f"{base}/item/{i}.json", context)["body"], ids))
    items = [_parse(_HNItem, b, "Hacker News") for b in bodies if b]  # deleted items are null
    return [_hn_item(i) for i in items if i.title and _matches(i.title, params.keywords)][: params.count]


class _AlgoliaHit(BaseModel):
    object_id: str = Field(alias="objectID")
    title: str | None = None
    url: str | None = None
    points: int | None = None
    created_at_i: int | None = None
    story_text: str | None = None


class _AlgoliaResults(BaseModel):
    hits: list[_AlgoliaHit]


def hackernews_search(query: str, context: ToolContext, *, count: int = 10,
                      since: datetime | None = None) -> list[dict[str, Any]]:
    """Stories matching `query` (newer than `since`), from the Algolia HN Search API."""
    base = _setting("HACKERNEWS_SEARCH_URL", "https://hn.algolia.com/api/v1")
    asked: dict[str, str | int] = {"query": query, "tags": "story", "hitsPerPage": count}
    if since is not None:
        asked["numericFilters"] = f"created_at_i>{int(since.timestamp())}"
    body = request("GET", f"{base}/search?{urlencode(asked)}", context)["body"]
    hits = _parse(_AlgoliaResults, body, "Hacker News search").hits
    return [
        _result("hackernews", h.title, h.url or f"https://news.ycombinator.com/item?id={h.object_id}",
                _text(h.story_text), h.points, _iso(h.created_at_i))
        for h in hits if h.title
    ][:count]


@tool.action("hackernews", credits=10)
def hackernews(params: HackerNewsInput, context: ToolContext) -> dict[str, Any]:
    """Top, new or best Hacker News stories, optionally only those whose title has a keyword;
    or, with `query`, stories matching it among all of Hacker News (newest and best first)."""
    if params.query:
        return {"results": hackernews_search(params.query, context, count=params.count)}
    return {"results": hackernews_stories(params, context)}


# --- reddit (public JSON listings: /r/{sub}/top.json, /search.json?q=) ----------------------


class RedditInput(ToolInput):
    subreddit: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]{2,32}$")
    query: str | None = Field(default=None, max_length=512)
    sort: Literal["hot", "new", "top", "relevance"] = "top"
    period: Literal["hour", "day", "week", "month", "year", "all"] = "day"
    count: int = Field(default=10, ge=1, le=MAX_COUNT)


class _RedditPost(BaseModel):
    title: str
    url: str | None = None
    permalink: str = ""
    score: int | None = None
    created_utc: float | None = None
    selftext: str = ""


class _RedditChild(BaseModel):
    data: _RedditPost


class _RedditData(BaseModel):
    children: list[_RedditChild]


class _RedditListing(BaseModel):
    data: _RedditData


def _reddit_url(params: RedditInput) -> str:
    base = _setting("REDDIT_API_URL", "https://www.reddit.com")
    query: dict[str, str | int] = {"limit": params.count, "t": params.period, "raw_json": 1}
    if params.query:
        query |= {"q": params.query, "sort": params.sort if params.sort != "hot" else "relevance"}
        if params.subreddit:
            return f"{base}/r/{params.subreddit}/search.json?{urlencode(query | {'restrict_sr': 1})}"
        return f"{base}/search.json?{urlencode(query)}"
    if not params.subreddit:
        raise ToolError("search.reddit needs a subreddit or a query")
    sort = "top" if params.sort == "relevance" else params.sort
    return f"{base}/r/{params.subreddit}/{sort}.json?{urlencode(query)}"


def reddit_posts(params: RedditInput, context: ToolContext) -> list[dict[str, Any]]:
    body = request("GET", _reddit_url(params), context, headers={"User-Agent": USER_AGENT})["body"]
    site = _setting("REDDIT_API_URL", "https://www.reddit.com")
    posts = [c.data for c in _parse(_RedditListing, body, "reddit").data.children]
    return [
        _result("reddit", p.title, p.url or f"{site}{p.permalink}", _text(p.selftext), p.score,
                _iso(p.created_utc))
        for p in posts
    ][: params.count]


@tool.action("reddit", credits=5)
def reddit(params: RedditInput, context: ToolContext) -> dict[str, Any]:
    """Posts from a subreddit (hot/new/top) or matching a search query, optionally within a subreddit."""
    return {"results": reddit_posts(params, context)}


# --- Google News (RSS 2.0) ------------------------------------------------------------------


class GoogleNewsInput(ToolInput):
    query: str = Field(min_length=1, max_length=512)
    count: int = Field(default=10, ge=1, le=MAX_COUNT)
    language: str = Field(default="en-US", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    country: str = Field(default="US", pattern=r"^[A-Z]{2}$")


def feed_entries(text: Any, what: str) -> list[Any]:
    """The entries of an RSS or Atom document, read by feedparser.

    feedparser is given a stream, never the text itself: a string that looks like a URL
    or a path would make it fetch or open that, past the egress policy. It never expands
    entities declared in a DTD (it strips the declarations), so a hostile feed stays small.
    """
    if not isinstance(text, str):
        raise ToolError(f"unexpected response from {what}: not an RSS or Atom document")
    # The body is already decoded text, so its charset is UTF-8 now whatever the prolog says.
    feed = feedparser.parse(io.BytesIO(text.encode("utf-8")),
                            response_headers={"content-type": "application/xml; charset=utf-8"})
    if not feed.version:
        reason = f" ({feed.bozo_exception})" if feed.get("bozo_exception") else ""
        raise ToolError(f"unexpected response from {what}: not an RSS or Atom feed{reason}")
    return list(feed.entries)


def entry_time(entry: Any) -> str | None:
    """An entry's publication (or update) time as ISO UTC; feedparser parses it as UTC."""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return _iso(float(calendar.timegm(parsed))) if parsed else None


def google_news_items(params: GoogleNewsInput, context: ToolContext) -> list[dict[str, Any]]:
    lang = params.language.split("-")[0]
    query = urlencode({"q": params.query, "hl": params.language, "gl": params.country,
                       "ceid": f"{params.country}:{lang}"})
    base = _setting("GOOGLE_NEWS_RSS_URL", "https://news.google.com/rss/search")
    entries = feed_entries(request("GET", f"{base}?{query}", context)["body"], "Google News")
    return [
        _result("google_news", entry.get("title", ""), entry.get("link", ""), _text(entry.get("summary")),
                None, entry_time(entry))
        for entry in entries[: params.count]
    ]


@tool.action("google_news", credits=5)
def google_news(params: GoogleNewsInput, context: ToolContext) -> dict[str, Any]:
    """News articles matching a query, from Google News' RSS search feed."""
    return {"results": google_news_items(params, context)}


# --- Web search (Brave Search API shape) ----------------------------------------------------


class WebInput(ToolInput):
    query: str = Field(min_length=1, max_length=400)
    count: int = Field(default=10, ge=1, le=20)


class _WebResult(BaseModel):
    title: str
    url: str
    description: str = ""
    page_age: str | None = None


class _WebResults(BaseModel):
    results: list[_WebResult] = Field(default_factory=list)


class _WebResponse(BaseModel):
    web: _WebResults = Field(default_factory=_WebResults)  # absent when nothing matched


def _web_time(value: str | None) -> str | None:
    try:
        return _iso(datetime.fromisoformat(value)) if value else None
    except ValueError:
        return None


def web_results(params: WebInput, context: ToolContext) -> list[dict[str, Any]]:
    url = _setting("WEB_SEARCH_API_URL", "https://api.search.brave.com/res/v1/web/search")
    key = _setting("WEB_SEARCH_API_KEY", "")
    if not url or not key:
        raise ToolError("web search is not configured: set WEB_SEARCH_API_URL and WEB_SEARCH_API_KEY")
    headers = {"Accept": "application/json", "X-Subscription-Token": key}
    body = request("GET", f"{url}?{urlencode({'q': params.query, 'count': params.count})}", context,
                   headers=headers)["body"]
    found = _parse(_WebResponse, body, "the web search API").web.results
    return [_result("web", r.title, r.url, _text(r.description), None, _web_time(r.page_age))
            for r in found[: params.count]]


@tool.action("web", credits=10)
def web(params: WebInput, context: ToolContext) -> dict[str, Any]:
    """Web pages matching a query, from the configured web search API."""
    return {"results": web_results(params, context)}


# --- Several sources at once ------------------------------------------------------------------


class MultiInput(ToolInput):
    keywords: list[str] = Field(min_length=1, max_length=20)
    sources: list[Source] = Field(default=["hackernews", "reddit", "google_news"], min_length=1)
    count: int = Field(default=10, ge=1, le=MAX_COUNT, description="Results per source")
    sort_by: Literal["time", "score"] = Field(default="time", alias="sortBy")


def _from_source(source: Source, params: MultiInput, context: ToolContext) -> list[dict[str, Any]]:
    query = " ".join(params.keywords)
    if source == "hackernews":
        return hackernews_stories(HackerNewsInput(count=params.count, keywords=params.keywords), context)
    if source == "reddit":
        return reddit_posts(RedditInput(query=query, sort="relevance", period="week", count=params.count), context)
    if source == "google_news":
        return google_news_items(GoogleNewsInput(query=query, count=params.count), context)
    return web_results(WebInput(query=query, count=min(params.count, 20)), context)


def _merge(batches: list[list[dict[str, Any]]], sort_by: str) -> list[dict[str, Any]]:
    by_url: dict[str, dict[str, Any]] = {}
    for result in (r for batch in batches for r in batch):
        by_url.setdefault(result["url"], result)  # the same link from two sources counts once
    merged = list(by_url.values())
    key = "time" if sort_by == "time" else "score"
    # Newest (or highest) first; results without the field go last.
    return sorted(merged, key=lambda r: (r[key] is not None, r[key] or 0), reverse=True)


@tool.action("multi", credits=20)
def multi(params: MultiInput, context: ToolContext) -> dict[str, Any]:
    """Search several sources for keywords at once; results merged, de-duplicated by URL and sorted.

    A source that fails is reported under `errors`; the others still answer.
    """
    sources = list(dict.fromkeys(params.sources))

    def attempt(source: Source) -> list[dict[str, Any]] | ToolError:
        try:
            return _from_source(source, params, context)
        except ToolError as exc:  # one source down must not hide the others' answers
            return exc

    with ThreadPoolExecutor(max_workers=len(sources)) as pool:
        answers = dict(zip(sources, pool.map(attempt, sources), strict=True))
    errors = [{"source": s, "error": str(a)} for s, a in answers.items() if isinstance(a, ToolError)]
    if len(errors) == len(sources):
        raise ToolError("every source failed: " + "; ".join(f"{e['source']}: {e['error']}" for e in errors))
    batches = [a for a in answers.values() if not isinstance(a, ToolError)]
    return {"results": _merge(batches, params.sort_by), "errors": errors}
