"""One step of a parallel plan, run by whichever worker claims it (agents/fanout.py hands it out).

Claim -> the task still executing? -> resolve its references against the finished steps ->
approval gate -> act (the claim renewed meanwhile) -> record. A step records itself under a
lock on its task's row, so branches that finish together add up their counters and their
trace entries one after the other; then it wakes the task, which hands out what became ready.
The same rules as a sequential step hold: a side effect gets its row first, an irreversible
step found started is held for a person instead of repeated, a transient failure is retried
with backoff, any other failure fails the run with the step's reason.
"""
from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tasks_app import leases, step_claims
from tasks_app.models import StepStatus, Task, TaskExecution, TaskStatus
from tools.base import SideEffect
from xantuus import logs

from . import credits
from .approvals import gate, hold_unknown_outcome
from .attempt import Attempt
from .dispatch import enqueue
from .error_policy import ErrorKind, Facts, Verdict, decide
from .errors import DATABASE_DOWN, describe
from .executor import act, planned_attempt
from .finish import fail_task
from .step_record import finished_steps, record_parallel, run_rows, save_row

log = logging.getLogger(__name__)


def run_branch(task_id: str, run: int, number: int) -> str:
    """Run step `number` of run `run` if we can claim it; returns what happened (for logs and tests)."""
    token = leases.new_token()
    if not step_claims.take(task_id, run, number, token):
        return "not-claimed"
    try:
        return _claimed(task_id, run, number, token)
    except DATABASE_DOWN:  # not the task's fault: the Celery task retries, the claim lapses meanwhile
        raise
    except Exception as exc:  # an engine fault: fail the run with its reason
        log.exception("step %s of task %s crashed", number, task_id)
        fail_task(task_id, token, f"engine error: {describe(exc)}")
        return "failed"


def _claimed(task_id: str, run: int, number: int, token: str) -> str:
    task = Task.objects.select_related("user").get(id=task_id)
    if task.status != TaskStatus.EXECUTING or task.attempts != run:
        step_claims.release(task_id, run, number, token)  # handed out again once the task runs on
        return "not-executing"
    logs.bind(taskId=task_id, run=run, step=number)
    row = TaskExecution.objects.get(task_id=task_id, run=run, step=number)
    if row.status == StepStatus.RUNNING and row.side_effect == SideEffect.IRREVERSIBLE:
        hold_unknown_outcome(task, token, row)  # its worker died mid-call: a person says whether it happened
        step_claims.release(task_id, run, number, token)
        return "awaiting-approval"
    started = time.monotonic()
    done = finished_steps(run_rows(task))
    attempt = planned_attempt(task, task.plan or {}, number, done)
    attempt.retries, attempt.plan_version, attempt.row_exists = row.attempts, row.plan_version, True  # handed out
    attempt.deadline = started + (settings.AGENT_TIMEOUT_MS - task.execution_time) / 1000
    if attempt.error is None and attempt.output is None:
        verdict = gate(task, token, attempt)  # the task awaits the person; this step is handed out after
        if verdict.waiting:
            step_claims.release(task_id, run, number, token)
            return "awaiting-approval"
        attempt.params = verdict.params if verdict.params is not None else attempt.params
        attempt.output = verdict.skipped
    act(task, attempt, step_claims.keep_alive(task_id, run, number, token))
    attempt.token_credits = credits.tokens_cost(task, attempt)
    attempt.duration_ms = int((time.monotonic() - started) * 1000)
    return _observe(task, token, attempt)


def _observe(task: Task, token: str, attempt: Attempt) -> str:
    """Act on the one error policy's verdict. A parallel plan is not rewritten mid-flight (its other
    steps are running): what would replan or adapt a sequential plan fails it with the step's reason."""
    decision = decide(Facts(
        kind=(attempt.kind or ErrorKind.FATAL) if attempt.error else None, retries=attempt.retries,
        max_retries=settings.AGENT_MAX_RETRIES, out_of_time=attempt.out_of_time,
        circuit_open=attempt.wait_until is not None))
    if decision.verdict == Verdict.WAIT and attempt.wait_until is not None:  # the call's circuit cools down
        return _later(task, token, attempt, attempt.wait_until, "waiting-for-circuit")
    if attempt.kind == ErrorKind.TRANSIENT:  # the row counts every attempt, the last one too
        attempt.retries += 1
    if decision.verdict == Verdict.RETRY:
        delay = min(60.0, settings.AGENT_RETRY_BASE_S * 2 ** (attempt.retries - 1)) * random.uniform(0.5, 1.0)
        with transaction.atomic():
            save_row(task, attempt, StepStatus.FAILED)
            Task.objects.filter(id=task.id).update(execution_time=F("execution_time") + attempt.duration_ms)
        return _later(task, token, attempt, timezone.now() + timedelta(seconds=delay), "retry-scheduled")
    with transaction.atomic():
        locked = Task.objects.select_for_update().select_related("user").get(id=task.id)
        if decision.verdict != Verdict.CONTINUE:
            attempt.error = f"{attempt.error}{decision.error_note}"
            save_row(locked, attempt, StepStatus.FAILED, traced=True)
            _unclaim(locked, attempt)
            fail_task(task.id, token, f"step {attempt.number} ({attempt.action}) failed: {attempt.error}",
                      attempt=attempt)
            return "failed"
        save_row(locked, attempt, StepStatus.COMPLETED, traced=True)
        _unclaim(locked, attempt)
        record_parallel(locked, attempt)
    enqueue("step", task.id, priority=task.priority)  # fan-in: what waited for this step may start now
    return "step-completed"


def _later(task: Task, token: str, attempt: Attempt, when: datetime, outcome: str) -> str:
    """Give the step back to be run again at `when` (a retry's backoff, a circuit's cool-down)."""
    step_claims.release(task.id, task.attempts, attempt.number, token, hand_out_after=when)
    delay = max(0.05, (when - timezone.now()).total_seconds())
    enqueue("branch", task.id, task.attempts, attempt.number, priority=task.priority,
            countdown=delay + random.uniform(0, 0.25))
    return outcome


def _unclaim(task: Task, attempt: Attempt) -> None:
    TaskExecution.objects.filter(task_id=task.id, run=task.attempts, step=attempt.number).update(
        claim_owner=None, claim_expires_at=None)
