"""What a step reads before it acts, in one SELECT: its owner, annotated with the facts that
spare it further reads (tasks_app/owner_facts.py), and how an earlier attempt of the step ended.

The task itself came with its lease (leases.take_task); with this, a plan step of an owner
without stored secrets, policy overrides or step webhooks, while no circuit is failing,
reads nothing else before its tool runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Subquery

from tasks_app import credentials, credit_ledger, webhook_events
from tasks_app.models import Task, TaskExecution

from . import circuit, policies


@dataclass(frozen=True)
class Earlier:
    """The step's row from an attempt before this one (a retry, or a worker that stopped mid-call)."""

    status: str
    side_effect: str
    attempts: int


def load(task: Task, number: int) -> Earlier | None:
    """Load the task's owner with its facts onto `task`; the earlier attempt of step `number`, if any."""
    row = TaskExecution.objects.filter(task_id=task.id, run=task.attempts, step=number)
    earlier = {f"earlier_{name}": Subquery(row.values(name)[:1]) for name in ("status", "side_effect", "attempts")}
    owner: Any = get_user_model().objects.annotate(
        **credentials.owner_facts(), **credit_ledger.owner_facts(), **webhook_events.owner_facts(),
        **policies.owner_facts(), **circuit.owner_facts(), **earlier).get(pk=task.user_id)
    task.user = owner
    if owner.earlier_status is None:
        return None
    return Earlier(owner.earlier_status, owner.earlier_side_effect, owner.earlier_attempts)
