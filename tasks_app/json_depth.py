"""A bound on how deeply request JSON may nest, checked without recursion.

Deeply nested JSON made the recursive validators (and, deeper still, the decoder itself) raise
RecursionError: a 500. Every JSON body the faces accept passes through here first.
"""
from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 64  # far beyond any plan or config; far below Python's recursion limit


class TooDeep(ValueError):
    """The JSON nests deeper than MAX_JSON_DEPTH."""


def depth_error() -> str:
    return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"


def check_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise TooDeep when objects/arrays nest deeper than `limit` (an explicit stack, no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            raise TooDeep(depth_error())
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """json.loads, refusing (TooDeep) what nests too deeply, even past the decoder's own recursion."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise TooDeep(depth_error()) from None
    check_depth(value)
    return value
