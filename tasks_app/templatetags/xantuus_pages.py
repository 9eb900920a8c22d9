"""Template filters of the web pages: readable JSON, durations, status names. Pure formatting."""
from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON (autoescaped by the template); a string as itself; '-' for nothing."""
    if value in (None, "", {}, []):
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def duration_ms(value: Any) -> str:
    """1234 -> '1.2 s', 95000 -> '1 min 35 s'; '-' when not measured."""
    if not isinstance(value, int | float) or value <= 0:
        return "-"
    if value < 1000:
        return f"{int(value)} ms"
    seconds = value / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


@register.filter
def humanize_status(value: Any) -> str:
    return str(value or "").replace("_", " ")


@register.filter
def percent(value: Any) -> str:
    return "-" if value is None else f"{value:g}%"
