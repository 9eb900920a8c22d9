"""Template filters of the trace viewer: a step's input or output as JSON with long values folded,
and the screenshots a step took (browser.screenshot, prices.check with screenshot). Pure formatting."""
from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()
MAX_STRING = 240  # characters of a string shown before it is folded
MAX_ITEMS = 20  # items of a list shown before it is folded


def _shorten(value: Any, cut: list[int]) -> Any:
    """A copy with long strings and lists cut, counting what was cut in `cut`."""
    if isinstance(value, str) and len(value) > MAX_STRING:
        cut[0] += 1
        return f"{value[:MAX_STRING]}… [+{len(value) - MAX_STRING} characters]"
    if isinstance(value, list):
        shown = [_shorten(item, cut) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            cut[0] += 1
            shown.append(f"… [+{len(value) - MAX_ITEMS} items]")
        return shown
    if isinstance(value, dict):
        return {key: _shorten(item, cut) for key, item in value.items()}
    return value


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def folded_json(value: Any) -> dict[str, Any]:
    """{"short": JSON with long values cut, "full": the whole JSON or "" when nothing was cut, "size"}."""
    if value in (None, "", {}, []):
        return {"short": "-", "full": "", "size": 0}
    cut = [0]
    short = _shorten(value, cut)
    full = value if isinstance(value, str) else _dump(value)
    return {"short": short if isinstance(short, str) else _dump(short), "full": full if cut[0] else "",
            "size": len(full)}


def screenshot_files(output: Any) -> list[dict[str, Any]]:
    """Every {"path": "….png", "width", "height"} in a step's output, in the order found: screenshots."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            path = value.get("path")
            if isinstance(path, str) and path.lower().endswith(".png") and "width" in value and "height" in value:
                found.append({"number": len(found) + 1, "path": path, "width": value["width"],
                              "height": value["height"]})
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(output)
    return found


@register.filter
def screenshots(output: Any) -> list[dict[str, Any]]:
    """The screenshots of a step for the page: numbered as trace_pages serves them, without their paths."""
    return [{key: shot[key] for key in ("number", "width", "height")} for shot in screenshot_files(output)]
