"""research: the research agent's work, gathering stories and writing the report.

`gather` runs one search per keyword per source (through tools.search: egress policy and
limits apply), keeps the window's stories, merges duplicates and ranks them; `report`
writes the Markdown report (items from the data, the overview from the model or
extracted offline) and keeps it as the owner's file. Nothing here invents an item.
"""
from __future__ import annotations

import base64
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import research_rank as judge
from .base import SideEffect, Tool, ToolContext, ToolInput
from .errors import ToolError, ToolInputError
from .research_report import file_name, render
from .search import (
    GoogleNewsInput,
    RedditInput,
    WebInput,
    google_news_items,
    hackernews_search,
    reddit_posts,
    web_results,
)

tool = Tool("research", "Research keywords across news sources: gather ranked stories, write a Markdown report.")

Source = Literal["hackernews", "reddit", "google_news", "web"]
OVERVIEW_ITEMS = 30  # stories the model reads for the overview (the offline one lists the first few)
OFFLINE_OVERVIEW_ITEMS = 5


class GatherInput(ToolInput):
    keywords: list[str] = Field(min_length=1, max_length=20, description="One search per keyword per source")
    sources: list[Source] = Field(default=["hackernews", "reddit", "google_news"], min_length=1)
    window: str = Field(default="7d", description="How far back: '7d', '24h', '90m', '2w'")
    count: int = Field(default=10, ge=1, le=50, description="Stories per keyword in the report")
    per_search: int = Field(default=25, ge=1, le=50, alias="perSearch", description="Results asked per search")

    @field_validator("keywords")
    @classmethod
    def clean_keywords(cls, value: list[str]) -> list[str]:
        cleaned = list(dict.fromkeys(" ".join(k.split()) for k in value))
        if any(not k or len(k) > 200 for k in cleaned):
            raise ValueError("every keyword must be 1 to 200 characters")
        return cleaned

    @field_validator("window")
    @classmethod
    def known_window(cls, value: str) -> str:
        judge.parse_window(value)  # WindowError is a ValueError: pydantic reports it on `window`
        return value.strip()


def _reddit_period(length: timedelta) -> Literal["hour", "day", "week", "month", "year", "all"]:
    for period, limit in (("hour", 1 / 24), ("day", 1), ("week", 7), ("month", 31), ("year", 366)):
        if length <= timedelta(days=limit):
            return period  # type: ignore[return-value]
    return "all"


def _google_when(length: timedelta) -> str:
    """Google News' own recency operator: `when:7d`, `when:12h`."""
    hours = math.ceil(length.total_seconds() / 3600)
    return f"when:{math.ceil(hours / 24)}d" if hours >= 24 else f"when:{hours}h"


def _search(source: Source, keyword: str, since: datetime, params: GatherInput,
            context: ToolContext) -> list[dict[str, Any]]:
    length, count = judge.parse_window(params.window), params.per_search
    if source == "hackernews":
        return hackernews_search(keyword, context, count=count, since=since)
    if source == "reddit":
        asked = RedditInput(query=keyword, sort="relevance", period=_reddit_period(length), count=count)
        return reddit_posts(asked, context)
    if source == "google_news":
        return google_news_items(GoogleNewsInput(query=f"{keyword} {_google_when(length)}", count=count), context)
    return web_results(WebInput(query=keyword, count=min(count, 20)), context)


def _tagged(results: list[dict[str, Any]], keyword: str) -> list[dict[str, Any]]:
    """Each result with the keyword and place that found it; Google News' 'Title - Publisher' split."""
    tagged = []
    for position, result in enumerate(results):
        result = {**result, "keyword": keyword, "position": position, "batchSize": len(results)}
        if result["source"] == "google_news" and " - " in result["title"]:
            result["title"], result["publisher"] = (p.strip() for p in result["title"].rsplit(" - ", 1))
        tagged.append(result)
    return tagged


def _search_all(params: GatherInput, since: datetime,
                context: ToolContext) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    pairs = [(keyword, source) for keyword in params.keywords for source in dict.fromkeys(params.sources)]

    def attempt(pair: tuple[str, Source]) -> list[dict[str, Any]] | ToolError:
        try:
            return _tagged(_search(pair[1], pair[0], since, params, context), pair[0])
        except ToolError as exc:  # one search down must not hide the others' stories
            return exc

    with ThreadPoolExecutor(max_workers=min(8, len(pairs))) as pool:
        answers = list(pool.map(attempt, pairs))
    errors = [{"source": s, "keyword": k, "error": str(a)}
              for (k, s), a in zip(pairs, answers, strict=True) if isinstance(a, ToolError)]
    if len(errors) == len(pairs):
        raise ToolError("every search failed: " + "; ".join(f"{e['source']} ({e['keyword']}): {e['error']}"
                                                           for e in errors[:6]))
    return [r for a in answers if not isinstance(a, ToolError) for r in a], errors


def _item(story: judge.Story, keyword: str, rank: float) -> dict[str, Any]:
    found = story.result
    return {"keyword": keyword, "keywords": story.keywords, "source": found["source"], "sources": story.sources,
            "title": found["title"], "url": found["url"], "date": found.get("time"), "score": found.get("score"),
            "rank": rank, "snippet": found.get("snippet") or "",
            **({"publisher": found["publisher"]} if found.get("publisher") else {})}


def _sections(stories: list[judge.Story], params: GatherInput, start: datetime,
              end: datetime) -> list[dict[str, Any]]:
    """Every story under its best keyword, best first, at most `count` per keyword."""
    items = []
    for story in stories:
        keyword, relevance = judge.best_keyword(story, params.keywords)
        items.append(_item(story, keyword, judge.rank(story, relevance, start, end)))
    ordered = []
    for keyword in params.keywords:
        mine = [i for i in items if i["keyword"] == keyword]
        mine.sort(key=lambda i: (-i["rank"], -(judge.parse_time(i["date"]) or start).timestamp(), i["title"]))
        ordered += mine[: params.count]
    return ordered


@tool.action("gather", credits=20)
def gather(params: GatherInput, context: ToolContext) -> dict[str, Any]:
    """Search every source once per keyword, keep the stories of the window (`window`, default
    the last 7 days), merge duplicates (same link, near-identical title) and rank them by the
    source's points, recency and keyword match. A search that fails is listed under
    `sourceErrors` while the others still count."""
    length = judge.parse_window(params.window)
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - length
    results, errors = _search_all(params, start, context)
    kept = [r for r in results if judge.in_window(r, start, end)]
    stories = judge.deduplicate(kept)
    items = _sections(stories, params, start, end)
    return {
        "items": items, "byKeyword": {k: sum(i["keyword"] == k for i in items) for k in params.keywords},
        "storiesProcessed": len(items), "considered": len(results), "outsideWindow": len(results) - len(kept),
        "duplicatesMerged": len(kept) - len(stories), "sourceErrors": errors,
        "window": {"from": _iso(start), "to": _iso(end), "length": judge.format_window(length)},
        "keywords": params.keywords, "sources": list(dict.fromkeys(params.sources)),
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Gathered(BaseModel):
    """What `report` reads of gather's output."""

    model_config = ConfigDict(extra="allow")
    items: list[dict[str, Any]]
    keywords: list[str]
    window: dict[str, str]
    source_errors: list[dict[str, Any]] = Field(default_factory=list, alias="sourceErrors")


class ReportInput(ToolInput):
    title: str = Field(min_length=1, max_length=300)
    research: Gathered = Field(description="research.gather's result")
    format: Literal["markdown_report", "summary"] = "markdown_report"
    save: bool = Field(default=True, description="Keep the report as a file of the task's owner")
    file_name: str | None = Field(default=None, max_length=200, alias="fileName")


def _overview(params: ReportInput, context: ToolContext) -> str:
    ranked = sorted(params.research.items, key=lambda i: -i.get("rank", 0))
    llm: Any = context.llm  # a provider (agents.llm.base.Provider): complete and summarize
    if not ranked:
        return "Nothing new was found in this window."
    if llm is None:
        return "\n".join(f"- {i['title']} ({i['url']})" for i in ranked[:OFFLINE_OVERVIEW_ITEMS])
    facts = [{k: i.get(k) for k in ("keyword", "source", "title", "url", "date", "score", "snippet")}
             for i in ranked[: OVERVIEW_ITEMS if llm.name != "offline" else OFFLINE_OVERVIEW_ITEMS]]
    instructions = (f"These are the top stories found for a report titled {params.title!r} on: "
                    f"{', '.join(params.research.keywords)}. Write its overview: one to three short paragraphs "
                    "of Markdown, no headings, saying what is new or trending. Use only these stories, name "
                    "the ones you draw on by title, and invent no facts, numbers or links.")
    response = llm.summarize(facts, instructions=instructions, model=context.model)
    context.tokens_used += response.tokens
    context.output_tokens_used += response.output_tokens
    return str(response.text)


def _save(name: str, content: bytes, context: ToolContext) -> dict[str, Any]:
    """The owner's file; a retried step finds the one it already saved instead of a second."""
    files = context.store("files")
    try:
        existing, data = files.open(name)
    except ToolInputError:
        existing, data = None, b""
    if existing and existing.get("taskId") == context.task_id and data == content:
        return dict(existing)
    return dict(files.save(name, content, "text/markdown"))


@tool.action("report", side_effect=SideEffect.WRITE, credits=100)
def report(params: ReportInput, context: ToolContext) -> dict[str, Any]:
    """Write research.gather's stories as a Markdown report: a section per keyword, each story
    with source, title, link, date and a line of its own text, and an overview by the model
    (extracted offline). Kept as the owner's .md file unless `save` is false; `attachments`
    is ready for email.send."""
    found = params.research.model_dump(by_alias=True)
    overview = _overview(params, context)
    text = render(params.title, found, overview, format=params.format)
    content = text.encode("utf-8")
    name = params.file_name or file_name(params.title, found)
    saved = _save(name, content, context) if params.save else None
    attachment = {"filename": name, "contentBase64": base64.b64encode(content).decode(), "mimeType": "text/markdown"}
    return {"report": text, "summary": overview, "format": params.format, "reportFile": saved,
            "attachments": [attachment]}
