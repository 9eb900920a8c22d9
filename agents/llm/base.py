"""The provider interface: messages + tool schemas in; text + tool calls + token usage out."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class LLMUnavailable(Exception):
    """No language model can answer this (offline provider, or a free-form goal without a key)."""


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class LLMResponse:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str = "end_turn"
    model: str = ""

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Provider:
    name = "base"

    def complete(
        self, *, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
        model: str | None = None, max_tokens: int = 1024,
    ) -> LLMResponse:
        raise NotImplementedError

    def summarize(self, content: Any, *, instructions: str = "", model: str | None = None) -> LLMResponse:
        """Summarize text or JSON-able items; providers with a real model just ask it."""
        body = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, indent=1)
        prompt = f"{instructions or 'Summarize the following concisely in markdown.'}\n\n{body}"
        return self.complete(
            system="You write short, accurate summaries.",
            messages=[{"role": "user", "content": prompt}],
            model=model,
        )
