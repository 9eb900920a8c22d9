"""The one rule for password logins: the login page, the admin's and POST /api/auth/token all call it.

Attempts are throttled per client address (AGENT_RATE_LOGIN) and a username is locked for
AGENT_LOGIN_LOCKOUT_S after AGENT_LOGIN_MAX_FAILURES failures, in the shared cache (Redis when
configured), checked before any password is. It never tells whether a username exists: an unknown
name is counted and locked exactly like a real one, and a locked name refuses the right password too.
"""
from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate as django_authenticate
from django.core.cache import cache

from .client_address import client_address

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class LoginLocked(Exception):
    """A login refused before its password was checked; retry_after is in seconds."""

    def __init__(self, retry_after: float, message: str):
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"{message}; try again in {_duration(self.retry_after)}.")


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """"20/min" -> (20, 60); empty -> None (unlimited)."""
    if not rate:
        return None
    count, _, period = rate.partition("/")
    try:
        return int(count), PERIODS[period.strip()[:1]]
    except (ValueError, KeyError):
        raise ValueError(f"AGENT_RATE_LOGIN must look like 20/min, got {rate!r}") from None


def _key(kind: str, value: str) -> str:
    # hashed: no usernames or addresses in the cache's keys, and any length is a valid key
    return f"login:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def _count(key: str, timeout: int) -> int:
    """Atomically add one to a counter that lives `timeout` seconds from its first use."""
    cache.add(key, 0, timeout=timeout)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def _throttle_address(address: str) -> None:
    rate = parse_rate(settings.AGENT_RATE_LOGIN)
    if rate is None:
        return
    limit, period = rate
    now = time.time()
    window = int(now // period)
    # a sliding window: this window's count plus the last one's, weighted by how much of it
    # still lies within one period, so a window boundary never hands out a fresh allowance
    current = _count(_key("address", f"{address}|{window}"), 2 * period)
    previous = int(cache.get(_key("address", f"{address}|{window - 1}"), 0))
    overlap = 1 - (now - window * period) / period
    if current + previous * overlap > limit:
        raise LoginLocked(max(1.0, (window + 1) * period - now), "Too many login attempts from this address")


def _locked_until(username: str) -> float:
    return float(cache.get(_key("lock", username)) or 0)


def _lock(username: str) -> float:
    until = time.time() + settings.AGENT_LOGIN_LOCKOUT_S
    cache.set(_key("lock", username), until, timeout=settings.AGENT_LOGIN_LOCKOUT_S)
    return until


def _refuse_locked(username: str) -> None:
    until = _locked_until(username)
    if until > time.time():
        raise LoginLocked(until - time.time(), "Too many failed logins for this username")


def normalized(username: str) -> str:
    return str(username).strip().lower()


def authenticate(request: Any, username: str, password: str) -> Any:
    """Django's authenticate() behind the guard: the user, None for wrong credentials, LoginLocked when refused."""
    name = normalized(username)
    _refuse_locked(name)
    _throttle_address(client_address(request))
    # Counted before the password is checked, so parallel guesses cannot all slip under the limit.
    attempts = _count(_key("failures", name), settings.AGENT_LOGIN_LOCKOUT_S)
    if attempts > settings.AGENT_LOGIN_MAX_FAILURES:
        until = _lock(name)
        raise LoginLocked(until - time.time(), "Too many failed logins for this username")
    user = django_authenticate(request, username=username, password=password)
    if user is not None:
        cache.delete(_key("failures", name))
    elif attempts >= settings.AGENT_LOGIN_MAX_FAILURES:
        _lock(name)
    return user
