"""Per-user rate limits on creating and executing tasks (settings AGENT_RATE_CREATE / _EXECUTE).

The API's views and the wizard's form post (page_throttle_wait) count against the same limits, in
the default cache: Redis when REDIS_URL is set, so every process shares the counters. Over the
limit DRF answers 429 with Retry-After; errors.py puts it in the error format. Password logins
have their own rule in tasks_app/login_guard.py.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import UserRateThrottle

from tasks_app.client_address import client_address


class _SettingRateThrottle(UserRateThrottle):
    setting = ""

    def get_rate(self) -> str | None:
        # read per request, so an environment (or a test's settings override) takes effect
        return getattr(settings, self.setting, None) or None

    def allow_request(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_ident(self, request) -> str:  # type: ignore[no-untyped-def]
        # DRF believes any X-Forwarded-For; only the trusted proxies' hops count here
        return client_address(request)


class TaskCreateThrottle(_SettingRateThrottle):
    scope = "task_create"
    setting = "AGENT_RATE_CREATE"


class TaskExecuteThrottle(_SettingRateThrottle):
    scope = "task_execute"
    setting = "AGENT_RATE_EXECUTE"


def page_throttle_wait(request: Any, *throttles: type[_SettingRateThrottle]) -> float | None:
    """For a page's form post: None when every throttle allows it, else the seconds to wait."""
    waits = []
    for throttle_class in throttles:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):
            waits.append(throttle.wait() or 1.0)
    return max(waits) if waits else None
