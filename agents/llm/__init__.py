"""LLM providers behind one interface; get_provider() picks the configured one."""
from .base import LLMResponse, LLMUnavailable, Provider, ToolCall
from .factory import get_provider

__all__ = ["LLMResponse", "LLMUnavailable", "Provider", "ToolCall", "get_provider"]
