"""The offline provider: deterministic, no key, no network; it says plainly that it is offline.

It cannot reason about a free-form goal (that is a clear error, not a fake plan); it
summarizes extractively, so plan-driven agents run end to end without a model.
"""
from __future__ import annotations

import json
import re
from typing import Any

from .base import LLMResponse, LLMUnavailable, Provider

NOTE = "_(offline summary: extracted without a language model)_"
MAX_ITEMS = 20


class OfflineProvider(Provider):
    name = "offline"

    def complete(
        self, *, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
        model: str | None = None, max_tokens: int = 1024,
    ) -> LLMResponse:
        raise LLMUnavailable(
            "no language model is configured (offline provider): set ANTHROPIC_API_KEY, "
            "or give the task an agent type or an explicit plan"
        )

    def summarize(self, content: Any, *, instructions: str = "", model: str | None = None) -> LLMResponse:
        if isinstance(content, str):
            try:
                content = json.loads(content)
            except ValueError:
                return LLMResponse(text=f"{_first_sentences(content)}\n\n{NOTE}", model="offline")
        items = content if isinstance(content, list) else [content]
        lines = [_describe(item) for item in items[:MAX_ITEMS] if item is not None]
        more = f"\n- … and {len(items) - MAX_ITEMS} more" if len(items) > MAX_ITEMS else ""
        text = f"{len(items)} item(s):\n" + "\n".join(f"- {line}" for line in lines) + more
        return LLMResponse(text=f"{text}\n\n{NOTE}", model="offline")


def _first_sentences(text: str, count: int = 3) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    return " ".join(sentences[:count])


def _describe(item: Any) -> str:
    if not isinstance(item, dict):
        return _first_sentences(str(item), 1)[:200]
    title = item.get("title") or item.get("name") or item.get("subject") or item.get("id")
    parts = [f"**{title}**" if title else json.dumps(item, ensure_ascii=False)[:200]]
    if item.get("score") is not None:
        parts.append(f"{item['score']} points")
    if item.get("by"):
        parts.append(f"by {item['by']}")
    if item.get("descendants") is not None:
        parts.append(f"{item['descendants']} comments")
    line = ", ".join(parts)
    if item.get("url"):
        line += f" — {item['url']}"
    if item.get("text") or item.get("snippet"):
        line += f": {_first_sentences(str(item.get('text') or item.get('snippet')), 1)[:200]}"
    return line
