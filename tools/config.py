"""Tool configuration: a Django setting when defined, else the environment variable, else the default.

Tools also run outside Django (scripts, the sandbox runner), so nothing here requires it.
"""
from __future__ import annotations

import os
from typing import Any, TypeVar

T = TypeVar("T", str, int, float)


def django_setting(name: str, default: Any = None) -> Any:
    """The Django setting as it is (a list, a dict), or `default` where Django is absent or not
    configured or does not define it. The only place tools import Django's settings."""
    try:
        from django.conf import settings
    except ImportError:
        return default
    return getattr(settings, name, default) if settings.configured else default


def setting(name: str, default: T) -> T:
    """`name` converted to the type of `default`; an empty value means the default."""
    value: Any = django_setting(name)
    if value is None or value == "":
        value = os.environ.get(name)
    if value is None or value == "":
        return default
    return type(default)(value)
