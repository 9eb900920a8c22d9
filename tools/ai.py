"""ai: chat and summarize through the task's LLM provider (tokens are counted on the step)."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import Tool, ToolContext, ToolInput
from .errors import ToolError

tool = Tool("ai", "Ask the language model: chat, or summarize items or text.")


class ChatInput(ToolInput):
    prompt: str | None = Field(default=None, max_length=100_000)
    messages: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    system: str = Field(default="You are a helpful assistant.", max_length=20_000)
    model: str | None = None
    max_tokens: int = Field(default=1024, ge=1, le=8192, alias="maxTokens")


class SummarizeInput(ToolInput):
    items: Any = Field(default=None, description="Items (list or object) to summarize")
    text: str | None = Field(default=None, max_length=200_000)
    instructions: str = Field(default="", max_length=5_000)
    model: str | None = None


def _llm(context: ToolContext) -> Any:
    if context.llm is None:
        raise ToolError("the ai tool needs a language model provider in its context")
    return context.llm


@tool.action("chat", credits=100)
def chat(params: ChatInput, context: ToolContext) -> dict[str, Any]:
    """Send a prompt (or a message list) to the model; returns its text as `content`."""
    messages = list(params.messages) or ([{"role": "user", "content": params.prompt}] if params.prompt else [])
    if not messages:
        raise ToolError("ai.chat needs a prompt or messages")
    response = _llm(context).complete(
        system=params.system, messages=messages, model=params.model or context.model, max_tokens=params.max_tokens
    )
    context.tokens_used += response.tokens
    context.output_tokens_used += response.output_tokens
    return {"content": response.text, "model": response.model}


@tool.action("summarize", credits=100)
def summarize(params: SummarizeInput, context: ToolContext) -> str:
    """Summarize `items` or `text` in markdown; the result is the summary text."""
    content = params.items if params.items is not None else params.text
    if content is None:
        raise ToolError("ai.summarize needs items or text")
    response = _llm(context).summarize(content, instructions=params.instructions, model=params.model or context.model)
    context.tokens_used += response.tokens
    context.output_tokens_used += response.output_tokens
    return str(response.text)
