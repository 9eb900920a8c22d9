"""research: gather items from sources, summarize them, and mail the report to the user.

The seed's "Daily HN Summary" is this type with sources ["hackernews"] and count 5.
"""
from __future__ import annotations

from typing import Any, Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field

from ..plan import Plan, parse_plan

Source = Literal["hackernews", "reddit", "google_news", "web"]


class Config(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)  # unknown keys are kept for the LLM

    sources: list[Source] = Field(default_factory=lambda: list[Source](["hackernews"]), min_length=1)
    keywords: list[str] = Field(default_factory=list, max_length=20)
    count: int = Field(default=5, ge=1, le=50)
    format: Literal["markdown_report", "summary"] = "summary"
    email: bool = Field(default=True, description="Mail the report to the task's owner")
    schedule: str | None = None


def build_plan(config: Config, *, goal: str) -> Plan:
    if config.sources == ["hackernews"] and not config.keywords:
        return _hackernews_plan(config, goal)
    return _search_plan(config, goal)


def _search_plan(config: Config, goal: str) -> Plan:
    """Several sources (or keywords): search them at once, then summarize into the report."""
    keywords = config.keywords or [goal.splitlines()[0][:100]]
    style = "a markdown report with a section per theme and links" if config.format == "markdown_report" \
        else "a short summary"
    steps: list[dict[str, Any]] = [
        {"action": "search.multi", "description": f"Search {', '.join(config.sources)} for {', '.join(keywords)}",
         "params": {"keywords": keywords, "sources": list(config.sources), "count": config.count}},
        {"action": "ai.summarize", "description": "Write the report",
         "params": {"items": "{step1.result.results}",
                    "instructions": f"Write {style} of these results about: {', '.join(keywords)}."}},
    ]
    if config.email:
        steps.append({"action": "email.send", "description": "Send the report",
                      "params": {"to": "{user.email}", "subject": f"Your {goal.splitlines()[0][:150]}",
                                 "body": "{step2.result}"}})
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
    """The seed's result: the summary and how many stories it covers."""
    searched = outputs.get("step1")
    if isinstance(searched, dict) and "results" in searched:  # the search plan
        sent = outputs.get("step3") or {}
        return {"summary": outputs.get("step2"), "storiesProcessed": len(searched["results"]),
                "sourceErrors": searched.get("errors", []), "emailedTo": sent.get("to", [])}
    stories = outputs.get("step2") or []
    sent = outputs.get("step4") or {}
    return {"summary": outputs.get("step3"), "storiesProcessed": len(stories), "emailedTo": sent.get("to", [])}
