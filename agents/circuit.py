"""Circuit breakers of what tools call, kept in the database so every worker sees the same state.

A circuit is keyed by what failed (tools.circuit_keys): "http:api.example.com",
"database:reporting", "calendar:owner:7". Only transient failures (transport errors,
timeouts, 429, 5xx) count: a 404 or a bad input is an answer, not an outage.

closed: calls pass; AGENT_CIRCUIT_FAILURES consecutive transient failures open it for
AGENT_CIRCUIT_COOLDOWN_S. open: steps needing it wait (re-enqueued for the end of the
cool-down). After the cool-down one caller wins the conditional UPDATE to half_open and
probes; success closes the circuit, failure opens it again. A step still blocked when the
circuit has been open for AGENT_CIRCUIT_MAX_WAIT_S fails with a clear error.

Kept here rather than pybreaker: pybreaker wraps the call and raises while open, its
Redis storage lets several workers probe at once, and it has no notion of "wake this step
at the end of the cool-down"; these rows also serve the admin and the embedded (no Redis)
default.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, F, Q
from django.utils import timezone

from tasks_app.models import ToolCircuit

State = ToolCircuit.State


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_at: datetime | None = None  # when to look again, if not allowed
    gave_up: str | None = None  # open for too long: the step fails with this message


ANY_FAILING = "any_circuit_failing"


def owner_facts() -> dict[str, Any]:
    """Whether any circuit is open, probing or counting failures, read with the step's owner
    (tasks_app/owner_facts.py): when none is, a call needs neither check() nor record_success()."""
    return {ANY_FAILING: Exists(ToolCircuit.objects.filter(~Q(state=State.CLOSED) | Q(failures__gt=0)))}


def tool_of(key: str) -> str:
    return key.split(":", 1)[0]


def check(key: str) -> Verdict:
    """May a call under circuit `key` go ahead now?"""
    now = timezone.now()
    row = ToolCircuit.objects.filter(key=key).first()
    if row is None or row.state == State.CLOSED:
        return Verdict(True)
    if row.opened_at and (now - row.opened_at).total_seconds() > settings.AGENT_CIRCUIT_MAX_WAIT_S:
        return Verdict(False, gave_up=(
            f"tool {row.tool!r} is unavailable ({key}): its circuit breaker has been open since "
            f"{row.opened_at.isoformat()} after {row.failures} consecutive failures (last: {row.last_error})"))
    if row.opened_until and row.opened_until <= now:  # cool-down (or a probe's time) is over: probe
        probe_until = now + timedelta(seconds=settings.AGENT_CIRCUIT_COOLDOWN_S)
        won = ToolCircuit.objects.filter(key=key, state=row.state, opened_until=row.opened_until).update(
            state=State.HALF_OPEN, opened_until=probe_until)
        if won:
            return Verdict(True)
        return Verdict(False, retry_at=probe_until)
    return Verdict(False, retry_at=row.opened_until or now + timedelta(seconds=1))


def record_success(key: str) -> None:
    ToolCircuit.objects.filter(key=key).filter(~Q(state=State.CLOSED) | Q(failures__gt=0)).update(
        state=State.CLOSED, failures=0, opened_at=None, opened_until=None)


def record_failure(key: str, error: str) -> None:
    """A transient failure of a call under `key` (the caller decides what counts)."""
    now = timezone.now()
    ToolCircuit.objects.get_or_create(key=key, defaults={"tool": tool_of(key)})
    ToolCircuit.objects.filter(key=key).update(failures=F("failures") + 1, last_error=error[:2000])
    until = now + timedelta(seconds=settings.AGENT_CIRCUIT_COOLDOWN_S)
    # a failed probe opens it again; enough failures in a row open a closed one
    ToolCircuit.objects.filter(key=key, state=State.HALF_OPEN).update(state=State.OPEN, opened_until=until)
    ToolCircuit.objects.filter(key=key, state=State.CLOSED, failures__gte=settings.AGENT_CIRCUIT_FAILURES).update(
        state=State.OPEN, opened_at=now, opened_until=until)


def snapshot() -> list[dict[str, object]]:
    """Every circuit, for metrics and the dashboard."""
    return [
        {"key": row.key, "tool": row.tool, "state": row.state, "failures": row.failures,
         "openedAt": row.opened_at.isoformat() if row.opened_at else None,
         "openedUntil": row.opened_until.isoformat() if row.opened_until else None, "lastError": row.last_error}
        for row in ToolCircuit.objects.order_by("tool", "key")
    ]
