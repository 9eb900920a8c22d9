"""Leases: which worker may run a task's next step, taken and released by conditional UPDATE.

A lease that is not renewed lapses; the sweeper re-enqueues such tasks, so a killed
worker delays a task but never loses it.
"""
from __future__ import annotations

import os
import socket
import uuid
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from .models import Task
from .models import TaskStatus as S
from .renewals import renewing
from .update_returning import update_returning

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def new_token() -> str:
    return f"{WORKER_ID}:{uuid.uuid4().hex[:8]}"


def take(task_id: str, token: str, statuses: tuple[str, ...] = (S.EXECUTING,)) -> bool:
    """Take the lease if the task is in `statuses` and nobody holds a live lease."""
    now = timezone.now()
    return (
        Task.objects.filter(id=task_id, status__in=statuses)
        .filter(Q(lease_owner__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            lease_owner=token,
            lease_expires_at=now + timedelta(seconds=settings.AGENT_LEASE_SECONDS),
            heartbeat_at=now,
        )
        == 1
    )


def heartbeat(task_id: str, token: str) -> bool:
    now = timezone.now()
    return (
        Task.objects.filter(id=task_id, lease_owner=token).update(
            lease_expires_at=now + timedelta(seconds=settings.AGENT_LEASE_SECONDS), heartbeat_at=now
        )
        == 1
    )


def keep_alive(task_id: str, token: str) -> AbstractContextManager[None]:
    """Renew the lease while a long tool call runs (the process's renewal thread), so it never lapses."""
    return renewing(lambda: heartbeat(task_id, token))


def release(task_id: str, token: str, **fields: Any) -> bool:
    """Release our lease, writing `fields` in the same UPDATE; False if we no longer held it."""
    return (
        Task.objects.filter(id=task_id, lease_owner=token).update(
            lease_owner=None, lease_expires_at=None, updated_at=timezone.now(), **fields
        )
        == 1
    )


def holds(task_id: str, token: str) -> bool:
    return Task.objects.filter(id=task_id, lease_owner=token).exists()


def make_exclusive(task_id: str, token: str) -> str | None:
    """A new token for our lease, or None if another holder of `token` made it theirs first.

    A handed-over lease is held by whoever has the wake-up that carries its token, and a message
    may be delivered twice: before a call that is not a read, one conditional UPDATE decides
    which delivery acts (a read may run twice, and is recorded once: the step's row is unique)."""
    mine = new_token()
    return mine if Task.objects.filter(id=task_id, lease_owner=token).update(lease_owner=mine) == 1 else None


def hand_over(task_id: str, token: str, next_token: str, **fields: Any) -> int | None:
    """Pass our lease to the next step's wake-up (it carries `next_token`), writing `fields` and taking
    the task's next event number (returned; None if we no longer held the lease) in one UPDATE.

    The next step then holds the lease without writing it: its one SELECT (agents/step_reads.py) finds
    the task by the token. A lease handed over lapses like any other if that wake-up never runs."""
    now, lease = timezone.now(), timedelta(seconds=settings.AGENT_LEASE_SECONDS)
    row = update_returning(Task.objects.filter(id=task_id, lease_owner=token), ["event_seq"],
                           lease_owner=next_token, lease_expires_at=now + lease, heartbeat_at=now, updated_at=now,
                           event_seq=F("event_seq") + 1, **fields)
    return None if row is None else int(row[0])


def lapsed(limit: int = 100) -> list[tuple[str, str]]:
    """Active tasks whose lease lapsed, or that nobody leased for a lease period: (id, priority)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.AGENT_LEASE_SECONDS)
    rows = Task.objects.filter(status__in=(S.PLANNING, S.EXECUTING)).filter(
        Q(lease_expires_at__lt=now) | Q(lease_owner__isnull=True, updated_at__lt=stale)
    )
    return list(rows.values_list("id", "priority")[:limit])
