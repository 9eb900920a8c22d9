"""Secrets never enter traces, logs or events: mask values under secret-looking keys."""
from __future__ import annotations

import re
from typing import Any

SECRET_KEY = re.compile(r"(authorization|api[-_]?key|token|password|passwd|secret|cookie|credential)", re.I)
MASK = "[redacted]"


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if SECRET_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value
