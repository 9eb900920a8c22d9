"""Tool configuration: a Django setting when defined, else the environment variable, else the default.

Tools also run outside Django (scripts, the sandbox runner), so nothing here requires it.
"""
from __future__ import annotations

import os
from typing import Any, TypeVar

T = TypeVar("T", str, int, float)


def setting(name: str, default: T) -> T:
    """`name` converted to the type of `default`; an empty value means the default."""
    value: Any = None
    try:
        from django.conf import settings

        if settings.configured:
            value = getattr(settings, name, None)
    except ImportError:
        pass
    if value is None or value == "":
        value = os.environ.get(name)
    if value is None or value == "":
        return default
    return type(default)(value)
