"""The task state machine: the only writer of Task.status.

Every transition is one conditional UPDATE (`WHERE id = ? AND status IN (...)`) that
reports whether it won, so two racing callers can never both succeed or leave a task
in a state the table does not allow. Never read-modify-write a status.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import events
from .models import Task
from .models import TaskStatus as S
from .update_returning import update_returning

TERMINAL = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})
ACTIVE = frozenset({S.PLANNING, S.EXECUTING})  # a worker may be holding the task; counts against limits


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        # start a run: a new task, or a new run of a finished one (retry, schedule, replay),
        # at once when a slot is free, else after waiting in `queued` (agents/admission.py)
        Transition("start", frozenset({S.PENDING, S.QUEUED, S.COMPLETED, S.FAILED, S.CANCELLED}), S.PLANNING),
        Transition("queue", frozenset({S.PENDING, S.COMPLETED, S.FAILED, S.CANCELLED}), S.QUEUED),
        # a dead letter requeued: the failed run waits for a slot and continues at its failed step
        Transition("requeue", frozenset({S.FAILED}), S.QUEUED),
        Transition("planned", frozenset({S.PLANNING}), S.EXECUTING),
        Transition("pause", frozenset({S.PLANNING, S.EXECUTING, S.AWAITING_APPROVAL}), S.PAUSED),
        Transition("resume", frozenset({S.PAUSED}), S.EXECUTING),
        # resumed while every slot is taken: the run waits for one like a new run does
        Transition("resume_later", frozenset({S.PAUSED}), S.QUEUED),
        Transition("await_approval", frozenset({S.EXECUTING}), S.AWAITING_APPROVAL),
        Transition("approved", frozenset({S.AWAITING_APPROVAL}), S.EXECUTING),
        Transition("complete", frozenset({S.EXECUTING}), S.COMPLETED),
        Transition("fail", frozenset({S.PLANNING, S.EXECUTING, S.AWAITING_APPROVAL, S.PAUSED}), S.FAILED),
        Transition(
            "cancel",
            frozenset({S.PENDING, S.QUEUED, S.PLANNING, S.EXECUTING, S.PAUSED, S.AWAITING_APPROVAL}),
            S.CANCELLED,
        ),
    ]
}


class TransitionNotAllowed(Exception):
    """The task's current status does not allow the requested transition."""

    def __init__(self, task_id: str, name: str, current: str | None, *, sources: frozenset[str] | None = None):
        self.task_id, self.name, self.current = task_id, name, current
        allowed = ", ".join(sorted(sources if sources is not None else TRANSITIONS[name].sources))
        super().__init__(
            f"cannot {name.replace('_', ' ')} task {task_id}: it is {current or 'missing'}"
            f" (allowed from: {allowed})"
        )


def _stamps(target: str) -> dict[str, Any]:
    # every transition forgets why the task was paused; the engine's pause passes its reason
    # (pause_reason="credit_limit"), a person's pause has none
    now = timezone.now()
    if target == S.COMPLETED:
        return {"completed_at": now, "lease_owner": None, "lease_expires_at": None, "pause_reason": ""}
    if target == S.FAILED:
        return {"failed_at": now, "lease_owner": None, "lease_expires_at": None, "pause_reason": ""}
    return {"pause_reason": ""}  # pause and cancel leave the lease to its holder, who finishes the step in flight


def apply(name: str, *, task_id: str, lease: str | None = None, **fields: Any) -> bool:
    """Apply transition `name` if the task's status allows it (and, given `lease`, while that token
    holds the task's lease); True if this call won.

    The winner also stores a status event (published after commit).
    """
    transition = TRANSITIONS[name]
    rows = Task.objects.filter(id=task_id, status__in=transition.sources)
    with transaction.atomic(savepoint=False):  # often nested in a step's transaction: no savepoint
        # the status and the event's number in one UPDATE (RETURNING), then the event
        row = update_returning(
            rows if lease is None else rows.filter(lease_owner=lease), ["event_seq", "user_id"],
            status=transition.target, updated_at=timezone.now(), event_seq=F("event_seq") + 1,
            **{**_stamps(transition.target), **fields})
        if row is not None:
            events.store(task_id, int(row[1]), int(row[0]), "status", {
                "status": transition.target, "transition": name,
                **({"error": fields["error"]} if fields.get("error") else {}),
                **({"pauseReason": fields["pause_reason"]} if fields.get("pause_reason") else {})})
    return row is not None


def start_planned(*, task_id: str, plan_event: dict[str, Any], **fields: Any) -> None:
    """`start` and `planned` in one UPDATE, for a run whose plan was made before it was admitted: the
    events are those of the two transitions with the plan's between them, numbered in that UPDATE.
    Raises TransitionNotAllowed as require() does."""
    start, planned = TRANSITIONS["start"], TRANSITIONS["planned"]
    with transaction.atomic(savepoint=False):
        row = update_returning(
            Task.objects.filter(id=task_id, status__in=start.sources), ["event_seq", "user_id"],
            status=planned.target, updated_at=timezone.now(), event_seq=F("event_seq") + 3,
            **{**_stamps(planned.target), **fields})
        if row is None:
            current = Task.objects.filter(id=task_id).values_list("status", flat=True).first()
            raise TransitionNotAllowed(task_id, "start", current)
        last, user_id = int(row[0]), int(row[1])
        events.store_many(task_id, user_id, [
            (last - 2, "status", {"status": start.target, "transition": "start"}),
            (last - 1, "plan", plan_event),
            (last, "status", {"status": planned.target, "transition": "planned"})])


def require(name: str, *, task_id: str, **fields: Any) -> None:
    """Like apply(), but raise TransitionNotAllowed naming the current status when it loses."""
    if not apply(name, task_id=task_id, **fields):
        current = Task.objects.filter(id=task_id).values_list("status", flat=True).first()
        raise TransitionNotAllowed(task_id, name, current)


def allowed(status: str, name: str) -> bool:
    return status in TRANSITIONS[name].sources
