"""What the in-process runner runs on the embedded default: the engine's plan and step, and the beat.

agents/apps.py registers these on dispatch.INLINE when Django starts, so the dispatcher,
which every engine module uses to wake the next step, imports none of what it wakes.
"""
from __future__ import annotations

from tasks_app import webhook_delivery

from . import branch, heartbeats, metrics, orchestrator, schedules
from .dispatch import INLINE


def register() -> None:
    INLINE.handle("plan", orchestrator.plan)
    INLINE.handle("step", orchestrator.step)
    INLINE.handle("branch", branch.run_branch)
    INLINE.handle("sweep", lambda _: beat())


def beat() -> None:
    """What celery-beat does for the full stack: sweep lapsed leases, fire due schedules, send due webhooks."""
    heartbeats.beat_tick()
    heartbeats.inline_tick()
    orchestrator.sweep()
    schedules.tick()
    webhook_delivery.tick()
    metrics.aggregate_if_due()
