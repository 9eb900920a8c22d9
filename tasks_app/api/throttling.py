"""Per-user rate limits on creating and executing tasks (settings AGENT_RATE_CREATE / _EXECUTE).

Over the limit DRF answers 429 with Retry-After; errors.py puts it in the error format.
"""
from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class _SettingRateThrottle(UserRateThrottle):
    setting = ""

    def get_rate(self) -> str | None:
        # read per request, so an environment (or a test's settings override) takes effect
        return getattr(settings, self.setting, None) or None

    def allow_request(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class TaskCreateThrottle(_SettingRateThrottle):
    scope = "task_create"
    setting = "AGENT_RATE_CREATE"


class TaskExecuteThrottle(_SettingRateThrottle):
    scope = "task_execute"
    setting = "AGENT_RATE_EXECUTE"


class LoginThrottle(_SettingRateThrottle):
    """Password guesses per client address at POST /api/auth/token."""

    scope = "login"
    setting = "AGENT_RATE_LOGIN"

    def get_cache_key(self, request, view) -> str:  # type: ignore[no-untyped-def]
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
