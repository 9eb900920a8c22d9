"""research: search the sources once per keyword, rank the window's stories, write the report,
mail it.

The seed's "Daily HN Summary" is this type with sources ["hackernews"] and count 5 (its own
plan, step for step); with keywords (the seed's weekly AI-automation report) the plan is
research.gather -> research.report -> email.send. The window is `window`, else the
schedule's interval (weekly: 7 days), else 7 days.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from croniter import croniter
from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tools.research_rank import MAX_WINDOW, format_window, parse_window

from ..plan import Plan, parse_plan

Source = Literal["hackernews", "reddit", "google_news", "web"]
DEFAULT_WINDOW = "7d"
RESEARCH_COUNT = 10  # stories per keyword when the config names no count
ITEM_FIELDS = ("keyword", "source", "sources", "title", "url", "date", "score", "rank")


class Config(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)  # unknown keys are kept for the LLM

    sources: list[Source] = Field(default_factory=lambda: list[Source](["hackernews"]), min_length=1)
    keywords: list[str] = Field(default_factory=list, max_length=20)
    count: int = Field(default=5, ge=1, le=50, description="HN stories; with keywords, stories per keyword")
    format: Literal["markdown_report", "summary"] = "summary"
    email: bool = Field(default=True, description="Mail the report to the task's owner")
    schedule: str | None = None
    window: str | None = Field(default=None, description="How far back to look: '7d', '24h'; default the schedule's")

    @field_validator("window")
    @classmethod
    def known_window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_window(value)  # its ValueError names the window and the expected form
        return value


def build_plan(config: Config, *, goal: str) -> Plan:
    if config.sources == ["hackernews"] and not config.keywords:
        return _hackernews_plan(config, goal)
    return _research_plan(config, goal)


def window_of(config: Config, now: datetime | None = None) -> str:
    """`window`, else the time between the schedule's two latest firings, else 7 days."""
    if config.window:
        return config.window.strip()
    if config.schedule and croniter.is_valid(config.schedule):  # a bad cron is reported by the schedule check
        firings = croniter(config.schedule, now or datetime.now(UTC))
        latest = firings.get_prev(datetime)
        interval = latest - firings.get_prev(datetime)
        return format_window(min(max(interval, timedelta(minutes=1)), MAX_WINDOW))
    return DEFAULT_WINDOW


def _research_plan(config: Config, goal: str) -> Plan:
    """One search per keyword per source, the report, the email with the report attached."""
    title = goal.splitlines()[0][:150]
    keywords = config.keywords or [title[:100]]
    count = config.count if "count" in config.model_fields_set else RESEARCH_COUNT
    steps: list[dict[str, Any]] = [
        {"action": "research.gather", "description": f"Search {', '.join(config.sources)} for each of: "
                                                      f"{', '.join(keywords)}",
         "params": {"keywords": keywords, "sources": list(config.sources), "window": window_of(config),
                    "count": count}},
        {"action": "research.report", "description": "Write the report",
         "params": {"title": title, "research": "{step1.result}", "format": config.format}},
    ]
    if config.email:
        steps.append({"action": "email.send", "description": "Send the report",
                      "params": {"to": "{user.email}", "subject": f"Your {title}", "body": "{step2.result.report}",
                                 "attachments": "{step2.result.attachments}"}})
    return parse_plan({"steps": steps, "estimatedDuration": 30_000})


def _hackernews_plan(config: Config, goal: str) -> Plan:
    """The seed's Daily HN Summary plan, step for step."""
    hn = settings.HACKERNEWS_API_URL
    focus = f" Focus on: {', '.join(config.keywords)}." if config.keywords else ""
    steps: list[dict[str, Any]] = [
        {"action": "http.get", "description": "Fetch top stories from HN API",
         "params": {"url": f"{hn}/topstories.json"}},
        {"action": "http.getBatch", "description": f"Fetch details for top {config.count} stories",
         "params": {"ids": f"{{step1.result.slice(0,{config.count})}}", "urlTemplate": f"{hn}/item/{{id}}.json"}},
        {"action": "ai.summarize", "description": "Summarize the stories",
         "params": {"items": "{step2.result}", "instructions": f"Summarize these Hacker News stories.{focus}"}},
    ]
    if config.email:
        steps.append({"action": "email.send", "description": "Send summary email",
                      "params": {"to": "{user.email}", "subject": f"Your {goal.splitlines()[0][:150]}",
                                 "body": "{step3.result}"}})
    return parse_plan({"steps": steps, "estimatedDuration": 30_000})


def shape_result(outputs: dict[str, Any]) -> dict[str, Any]:
    """The report and its stories (keywords plan), or the seed's summary and story count (HN plan)."""
    gathered = outputs.get("step1")
    if isinstance(gathered, dict) and "byKeyword" in gathered:
        return _research_result(gathered, outputs.get("step2") or {}, outputs.get("step3") or {})
    if isinstance(gathered, dict) and "results" in gathered:  # search.multi plans made before research.gather
        sent = outputs.get("step3") or {}
        return {"summary": outputs.get("step2"), "storiesProcessed": len(gathered["results"]),
                "sourceErrors": gathered.get("errors", []), "emailedTo": sent.get("to", [])}
    stories = outputs.get("step2") or []
    sent = outputs.get("step4") or {}
    return {"summary": outputs.get("step3"), "storiesProcessed": len(stories), "emailedTo": sent.get("to", [])}


def _research_result(gathered: dict[str, Any], written: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    window = gathered.get("window") or {}
    return {
        "report": written.get("report"), "summary": written.get("summary"),
        "items": [{k: item.get(k) for k in ITEM_FIELDS} for item in gathered.get("items", [])],
        "byKeyword": gathered["byKeyword"], "storiesProcessed": gathered.get("storiesProcessed", 0),
        "window": {"from": window.get("from"), "to": window.get("to")},
        "sourceErrors": gathered.get("sourceErrors", []), "reportFile": written.get("reportFile"),
        "emailedTo": sent.get("to", []),
    }
