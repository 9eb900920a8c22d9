"""Dashboard metrics of one user's work (a selector: reads only).

Counted per run (tasks_app/run_metrics.py), so a task run twice counts two runs and its
credits come from the credit ledger; the staff dashboard (/ops/) reads the same numbers for everyone.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .run_metrics import WINDOWS, summary

DEFAULT_WINDOW = "last30d"


def dashboard_metrics(*, user: Any, window: str = DEFAULT_WINDOW, now: datetime | None = None) -> dict[str, Any]:
    return summary(user=user, window=window if window in WINDOWS else DEFAULT_WINDOW, now=now)
