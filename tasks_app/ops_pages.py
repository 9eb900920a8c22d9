"""The staff dashboard (/ops/): every user's work at a glance, with charts, tables and worker health.

Staff only (others get 403); reads through selectors, changes nothing. The page's JS reloads
its live part (/ops/live) every few seconds.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from . import ops_selectors
from .charts import metric_charts
from .ops_health import readiness, workers
from .ops_series import series
from .run_metrics import WINDOWS, summary

WINDOW_NAMES = {"last24h": "24 h", "last7d": "7 d", "last30d": "30 d"}
DEFAULT_WINDOW = "last24h"


def window_of(request: HttpRequest, default: str = DEFAULT_WINDOW) -> str:
    window = request.GET.get("window", default)
    return window if window in WINDOWS else default


def _staff(request: HttpRequest) -> None:
    if not getattr(request.user, "is_staff", False):
        raise PermissionDenied("the operations dashboard is for staff")


def _context(request: HttpRequest) -> dict[str, Any]:
    window, now = window_of(request), timezone.now()
    start = now - WINDOWS[window]
    return {
        "window": window, "windows": WINDOW_NAMES, "window_name": WINDOW_NAMES[window],
        "metrics": summary(window=window, now=now),
        "charts": metric_charts(series(window=window, now=now)),
        "busiest": ops_selectors.busiest_users(start=start, end=now),
        "slowest": ops_selectors.slowest_actions(start=start, end=now),
        "dead_letters": ops_selectors.dead_letters(), "dead_letter_count": ops_selectors.dead_letter_count(),
        "circuits": ops_selectors.open_circuits(), "workers": workers(), "ready": readiness(), "now": now,
    }


@login_required
def ops_dashboard(request: HttpRequest) -> HttpResponse:
    _staff(request)
    return render(request, "tasks_app/ops.html", _context(request))


@login_required
def ops_live(request: HttpRequest) -> HttpResponse:
    _staff(request)
    return render(request, "tasks_app/_ops_live.html", _context(request))
