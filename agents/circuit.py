"""The circuit breaker of each tool, kept in the database so every worker sees the same state.

closed: calls pass; AGENT_CIRCUIT_FAILURES consecutive failures (transient or tool
errors) open it for AGENT_CIRCUIT_COOLDOWN_S. open: steps needing the tool wait
(re-enqueued for the end of the cool-down). After the cool-down one caller wins the
conditional UPDATE to half_open and probes; success closes the circuit, failure opens it
again. A step still blocked when the circuit has been open for AGENT_CIRCUIT_MAX_WAIT_S
fails with a clear error.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from tasks_app.models import ToolCircuit

State = ToolCircuit.State


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_at: datetime | None = None  # when to look again, if not allowed
    gave_up: str | None = None  # open for too long: the step fails with this message


def check(tool: str) -> Verdict:
    """May a call to `tool` go ahead now?"""
    now = timezone.now()
    row = ToolCircuit.objects.filter(tool=tool).first()
    if row is None or row.state == State.CLOSED:
        return Verdict(True)
    if row.opened_at and (now - row.opened_at).total_seconds() > settings.AGENT_CIRCUIT_MAX_WAIT_S:
        return Verdict(False, gave_up=(
            f"tool {tool!r} is unavailable: its circuit breaker has been open since {row.opened_at.isoformat()} "
            f"after {row.failures} consecutive failures (last: {row.last_error})"))
    if row.opened_until and row.opened_until <= now:  # cool-down (or a probe's time) is over: probe
        probe_until = now + timedelta(seconds=settings.AGENT_CIRCUIT_COOLDOWN_S)
        won = ToolCircuit.objects.filter(tool=tool, state=row.state, opened_until=row.opened_until).update(
            state=State.HALF_OPEN, opened_until=probe_until)
        if won:
            return Verdict(True)
        return Verdict(False, retry_at=probe_until)
    return Verdict(False, retry_at=row.opened_until or now + timedelta(seconds=1))


def record_success(tool: str) -> None:
    ToolCircuit.objects.filter(tool=tool).filter(~Q(state=State.CLOSED) | Q(failures__gt=0)).update(
        state=State.CLOSED, failures=0, opened_at=None, opened_until=None)


def record_failure(tool: str, error: str) -> None:
    now = timezone.now()
    ToolCircuit.objects.get_or_create(tool=tool)
    ToolCircuit.objects.filter(tool=tool).update(failures=F("failures") + 1, last_error=error[:2000])
    until = now + timedelta(seconds=settings.AGENT_CIRCUIT_COOLDOWN_S)
    # a failed probe opens it again; enough failures in a row open a closed one
    ToolCircuit.objects.filter(tool=tool, state=State.HALF_OPEN).update(state=State.OPEN, opened_until=until)
    ToolCircuit.objects.filter(tool=tool, state=State.CLOSED, failures__gte=settings.AGENT_CIRCUIT_FAILURES).update(
        state=State.OPEN, opened_at=now, opened_until=until)


def snapshot() -> list[dict[str, object]]:
    """Every tool's circuit, for metrics and the dashboard."""
    return [
        {"tool": row.tool, "state": row.state, "failures": row.failures,
         "openedAt": row.opened_at.isoformat() if row.opened_at else None,
         "openedUntil": row.opened_until.isoformat() if row.opened_until else None, "lastError": row.last_error}
        for row in ToolCircuit.objects.order_by("tool")
    ]
