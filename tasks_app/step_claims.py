"""Step claims: which worker runs one step of a parallel plan, taken and released by conditional UPDATE.

A parallel plan's ready steps get a `pending` row each (agents/fanout.py); a worker claims a
row like a task's lease (tasks_app/leases.py) and renews the claim while its tool call runs.
A claim that is not renewed lapses, and the next look at the task hands the step out again,
so a killed worker delays a step but never loses it, and two deliveries never both run it.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import StepStatus, TaskExecution
from .renewals import renewing

CLAIMABLE = (StepStatus.PENDING, StepStatus.RUNNING, StepStatus.FAILED)


def _rows(task_id: str, run: int, step: int) -> QuerySet[TaskExecution]:
    return TaskExecution.objects.filter(task_id=task_id, run=run, step=step)


def lease_end() -> datetime:
    return timezone.now() + timedelta(seconds=settings.AGENT_LEASE_SECONDS)


def take(task_id: str, run: int, step: int, token: str) -> bool:
    """Claim the step if it is still to run and nobody holds a live claim on it."""
    now = timezone.now()
    return (
        _rows(task_id, run, step).filter(status__in=CLAIMABLE)
        .filter(Q(claim_owner__isnull=True) | Q(claim_expires_at__lt=now))
        .update(claim_owner=token, claim_expires_at=lease_end())
        == 1
    )


def lapsed(rows: QuerySet[TaskExecution]) -> QuerySet[TaskExecution]:
    """Those of `rows` nobody holds a live claim on (to be handed out again)."""
    return rows.filter(Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lt=timezone.now()))


def renew(task_id: str, run: int, step: int, token: str) -> bool:
    return _rows(task_id, run, step).filter(claim_owner=token).update(claim_expires_at=lease_end()) == 1


def keep_alive(task_id: str, run: int, step: int, token: str) -> AbstractContextManager[None]:
    """Renew the claim while a long tool call runs (the process's renewal thread), so it never lapses."""
    return renewing(lambda: renew(task_id, run, step, token))


def release(task_id: str, run: int, step: int, token: str, *, hand_out_after: datetime | None = None) -> bool:
    """Give the step back unfinished (the task paused, an approval or a retry is due). The next look at
    the task hands it out again, not before `hand_out_after` (a retry's backoff, a circuit's cool-down)."""
    return (_rows(task_id, run, step).filter(claim_owner=token)
            .update(claim_owner=None, claim_expires_at=hand_out_after) == 1)


def due(claim_expires_at: datetime | None, now: datetime) -> bool:
    """Is a row without a live claim (or a handed-out row nobody took in time) to be handed out again?"""
    return claim_expires_at is None or claim_expires_at < now
