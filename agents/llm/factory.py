"""get_provider(): the configured LLM provider (AGENT_LLM_PROVIDER), one per configuration."""
from __future__ import annotations

import threading
from typing import Any

from django.conf import settings

from .base import LLMUnavailable, Provider
from .offline import OfflineProvider

_PROVIDERS: dict[tuple[Any, ...], Provider] = {}
_PROVIDERS_LOCK = threading.Lock()


def get_provider(name: str | None = None) -> Provider:
    """The configured provider, built once per configuration (its HTTP client and connection
    pool are reused by every step of the process, instead of a new client per step)."""
    name = name or settings.AGENT_LLM_PROVIDER
    key = (name, settings.ANTHROPIC_API_KEY, settings.ANTHROPIC_BASE_URL, settings.AGENT_MAX_RETRIES,
           settings.AGENT_TIMEOUT_MS)
    with _PROVIDERS_LOCK:
        provider = _PROVIDERS.get(key)
        if provider is None:
            if len(_PROVIDERS) >= 8:  # settings changed many times (tests): keep the cache small
                _PROVIDERS.clear()
            provider = _PROVIDERS[key] = _build(name)
    return provider


def _build(name: str) -> Provider:
    if name == "anthropic":  # imported when chosen: the SDK takes a second to import, offline runs never need it
        from .anthropic_provider import AnthropicProvider

        return AnthropicProvider()
    if name == "offline":
        return OfflineProvider()
    raise LLMUnavailable(f"unknown LLM provider {name!r} (AGENT_LLM_PROVIDER): use 'anthropic' or 'offline'")
