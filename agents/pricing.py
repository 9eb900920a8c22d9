"""What model tokens cost in credits (AGENT_TOKEN_PRICES): prices only, no task, no ledger.

Planning, estimates and steps price tokens here alike (agents/credits.py charges them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Price:
    """Credits per 1000 tokens."""

    input: float
    output: float


def price_of(model: str | None) -> Price:
    """The model's entry of AGENT_TOKEN_PRICES: the longest key its name starts with, else "default"."""
    prices: dict[str, Any] = settings.AGENT_TOKEN_PRICES
    name = model or settings.AGENT_DEFAULT_MODEL
    keys = [key for key in prices if key != "default" and name.startswith(key)]
    key = max(keys, key=len) if keys else "default"
    entry = prices.get(key)
    try:
        return Price(input=float(entry["input"]), output=float(entry["output"]))  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        raise ImproperlyConfigured(
            f"AGENT_TOKEN_PRICES has no usable price for model {name!r} (entry {key!r}): each entry is "
            f'{{"input": credits per 1000 input tokens, "output": credits per 1000 output tokens}}') from None


def token_credits(model: str | None, input_tokens: int, output_tokens: int) -> int:
    """What the tokens cost, rounded up to whole credits (any model use costs at least one)."""
    if input_tokens <= 0 and output_tokens <= 0:
        return 0
    price = price_of(model)
    return max(1, math.ceil((input_tokens * price.input + output_tokens * price.output) / 1000))
