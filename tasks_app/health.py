"""GET /healthz (the process answers) and GET /readyz (it can run agents: tasks_app/ops_health.py),
for load balancers and compose healthchecks. No login: they say nothing about anyone's data."""
from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .ops_health import readiness


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    report = readiness()
    return JsonResponse({"status": "ready" if report["ready"] else "not ready", **report},
                        status=200 if report["ready"] else 503)
