"""Ending a run: completed with its result, or failed with its error; metrics either way.

A model-driven run is completed only when its goal was met (unmet_goal says when not).

A failed run also lands in the dead-letter list (to inspect and requeue) and both
outcomes notify the owner. Either way a slot frees, so waiting runs are admitted.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.db import transaction

from tasks_app import leases, lifecycle
from tasks_app.models import DeadLetter, Task
from tasks_app.redact import redact_output

from .admission import admit
from .credits import charge_step
from .errors import DATABASE_DOWN
from .metrics import record_run
from .notify import notify
from .schedules import remove
from .trace import document
from .types import result_for

if TYPE_CHECKING:
    from .attempt import Attempt

log = logging.getLogger(__name__)


def complete_task(task: Task, token: str, steps: list[dict[str, Any]], *, final_text: str | None = None,
                  tokens: int = 0, attempt: Attempt | None = None) -> bool:
    """Complete the run if the task is still executing; a paused one completes on resume.

    `attempt` is the model's final answer: its tokens are charged with the completion."""
    if final_text is not None:
        result: dict[str, Any] = {"summary": final_text, "steps": len(steps)}
    else:
        result = result_for(task.agent_type, task.plan or {}, steps)
    charged = attempt.charged if attempt is not None else 0
    with transaction.atomic():
        leases.release(task.id, token, total_tokens=task.total_tokens + tokens,
                       total_credits=task.total_credits + charged)
        won = lifecycle.apply("complete", task_id=task.id, result=result)
        if won:
            if attempt is not None:
                charge_step(task, attempt)
            record_run(task.id, "completed")
            notify(task, "completed", f"{task.title}: completed in {len(steps)} step(s).")
    admit_waiting()
    return won


def unmet_goal(task: Task, steps: list[dict[str, Any]], attempt: Attempt) -> str | None:
    """Why the model's ending is not a success, or None when it is.

    The model said the goal was not met; or a plan step failed and the model, adapting, ended
    with text instead of confirming the goal through the finish tool; or the last step failed
    and the model just answered (it gave up)."""
    text = (attempt.final_text or "").strip()[:2_000] or "(no answer)"
    if attempt.goal_met is False:
        return f"the goal was not met: {text}"
    if attempt.goal_met:
        return None
    plan = task.plan or {}
    if plan.get("adaptedFrom"):
        number = plan.get("adaptedAtStep")
        failed = plan["adaptedFrom"].get("steps", [])[number - 1]["action"] if number else "a step"
        return (f"step {number} ({failed}) failed and the model ended without confirming that the goal was "
                f"met: {text}")
    if steps and steps[-1]["status"] == "failed":
        return f"step {steps[-1]['step']} ({steps[-1]['action']}) failed and the model ended: {text}"
    return None


def fail_task(task_id: str, token: str, error: str, *, attempt: Attempt | None = None) -> bool:
    """Fail the run with `error` (a user-readable line). The failed step, if any, joined the trace with
    its row (save_row, traced): the dead letter keeps the trace with it."""
    error = redact_output(error, attempt.secrets if attempt is not None else ())
    with transaction.atomic():
        task = Task.objects.select_related("user").get(id=task_id)
        fields: dict[str, Any] = {"error": error[:10_000]}
        if attempt is not None:
            fields.update(tool_calls=task.tool_calls + 1,
                          execution_time=task.execution_time + attempt.duration_ms,
                          total_tokens=task.total_tokens + attempt.tokens,
                          total_credits=task.total_credits + attempt.charged)
        won = lifecycle.apply("fail", task_id=task_id, **fields)
        if won:
            if attempt is not None:  # the failed step's model tokens were spent: charged like any step's
                charge_step(task, attempt)
            record_run(task_id, "failed")
            DeadLetter.objects.create(task_id=task_id, run=task.attempts,
                                      step=attempt.number if attempt else task.current_step + 1,
                                      action=attempt.action if attempt else "", error=error[:10_000],
                                      trace=document(task))
            notify(task, "failed", f"{task.title}: failed. {error}")
        else:
            leases.release(task_id, token)
    admit_waiting()
    return won


def cancel_task(task_id: str, *, error: str | None = None) -> None:
    """Cancel the task, whoever asks (a person, a rejected approval): it is not run again by its
    schedule, and its slot goes to a waiting run. Inside a transaction, the admission waits for
    the commit."""
    lifecycle.require("cancel", task_id=task_id, **({"error": error} if error else {}))
    record_run(task_id, "cancelled")
    remove(task_id)
    transaction.on_commit(admit_waiting)


def admit_waiting() -> None:
    """A slot may have freed: start waiting runs. A failure here is left to the sweeper."""
    try:
        admit()
    except DATABASE_DOWN:
        raise
    except Exception:
        log.exception("admitting waiting runs failed; the sweeper will retry")
