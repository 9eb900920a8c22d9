"""Anthropic's Messages API with tool use, through the official SDK.

The SDK retries 408/409/429/5xx and connection errors with exponential backoff
(AGENT_MAX_RETRIES times); ANTHROPIC_BASE_URL points it at another endpoint.
"""
from __future__ import annotations

from typing import Any

import anthropic
from django.conf import settings

from .base import LLMResponse, LLMUnavailable, Provider, ToolCall


class AnthropicProvider(Provider):
    name = "anthropic"

    def __init__(self) -> None:
        if not settings.ANTHROPIC_API_KEY:
            raise LLMUnavailable("the anthropic provider needs ANTHROPIC_API_KEY")
        self.client = anthropic.Anthropic(
            api_key=settings.ANTHROPIC_API_KEY,
            base_url=settings.ANTHROPIC_BASE_URL,
            max_retries=settings.AGENT_MAX_RETRIES,
            timeout=settings.AGENT_TIMEOUT_MS / 1000,
        )

    def complete(
        self, *, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
        model: str | None = None, max_tokens: int = 1024,
    ) -> LLMResponse:
        kwargs: dict[str, Any] = {"tools": tools} if tools else {}
        message = self.client.messages.create(
            model=model or settings.AGENT_DEFAULT_MODEL,
            max_tokens=max_tokens,
            system=system,
            messages=messages,  # type: ignore[arg-type]
            **kwargs,
        )
        text = "".join(block.text for block in message.content if block.type == "text")
        calls = [
            ToolCall(id=block.id, name=block.name, input=dict(block.input))  # type: ignore[arg-type]
            for block in message.content
            if block.type == "tool_use"
        ]
        return LLMResponse(
            text=text,
            tool_calls=calls,
            input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
            stop_reason=message.stop_reason or "end_turn",
            model=message.model,
        )
