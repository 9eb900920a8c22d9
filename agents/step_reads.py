"""What a step reads before it acts, in one SELECT: the task whose lease it holds (its stored trace
left out: a step writes its entry with its row and never reads the trace), the owner, the facts that spare the
step further reads (tasks_app/owner_facts.py), and how an earlier attempt of the step ended.

With this, a plan step of an owner without stored secrets, policy overrides or step webhooks,
while no circuit is failing, reads nothing else before its tool runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from tasks_app import credentials, credit_ledger, webhook_events
from tasks_app.compiled_query import CompiledQuery
from tasks_app.models import Task, TaskExecution

from . import circuit, policies


@dataclass(frozen=True)
class Earlier:
    """The step's row from an attempt before this one (a retry, or a worker that stopped mid-call)."""

    status: str
    side_effect: str
    attempts: int


def _leased_query(task_id: str, token: str) -> QuerySet[Task]:
    next_row = TaskExecution.objects.filter(task_id=OuterRef("id"), run=OuterRef("attempts"),
                                            step=OuterRef("current_step") + 1)
    earlier = {f"earlier_{name}": Subquery(next_row.values(name)[:1]) for name in ("status", "side_effect", "attempts")}
    return (Task.objects.filter(id=task_id, lease_owner=token).select_related("user").defer("execution_trace")
            .annotate(**credentials.owner_facts(), **credit_ledger.owner_facts(), **webhook_events.owner_facts(),
                      **policies.owner_facts(), **circuit.owner_facts(), **earlier))


LEASED = CompiledQuery(_leased_query, "task_id", "token")  # compiled once per thread: it runs every step


def leased(task_id: str, token: str) -> Task | None:
    """The task if `token` holds its lease, with its owner and what the step reads before it acts."""
    return LEASED.first(task_id=task_id, token=token)


def earlier_attempt(task: Task) -> Earlier | None:
    """How an earlier attempt of the task's next step ended, as leased() read it with the task."""
    row: Any = task  # its annotations
    if row.earlier_status is None:
        return None
    return Earlier(row.earlier_status, row.earlier_side_effect, row.earlier_attempts)
