"""research: gather items from sources, summarize them, and mail the report to the user.

The seed's "Daily HN Summary" is this type with sources ["hackernews"] and count 5.
"""
from __future__ import annotations

from typing import Any, Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field

from ..plan import Plan, PlanError, parse_plan

Source = Literal["hackernews", "reddit", "google_news"]


class Config(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)  # unknown keys are kept for the LLM

    sources: list[Source] = Field(default_factory=lambda: ["hackernews"], min_length=1)
    keywords: list[str] = Field(default_factory=list, max_length=20)
    count: int = Field(default=5, ge=1, le=50)
    format: Literal["markdown_report", "summary"] = "summary"
    email: bool = Field(default=True, description="Mail the report to the task's owner")
    schedule: str | None = None


def build_plan(config: Config, *, goal: str) -> Plan:
    if config.sources != ["hackernews"]:
        raise PlanError(f"research sources {config.sources} need the search tool; only ['hackernews'] is planned")
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
    stories = outputs.get("step2") or []
    sent = outputs.get("step4") or {}
    return {"summary": outputs.get("step3"), "storiesProcessed": len(stories), "emailedTo": sent.get("to", [])}
