"""One ReAct step: lease -> limits -> reason -> act -> observe -> record -> next.

Each call runs at most one step of one task and then enqueues the next, so steps are
Celery tasks chained through the database. A step that finds no lease, or a task that
is paused or cancelled, returns at once: pause and cancel take effect at step boundaries.
"""
from __future__ import annotations

import copy
import logging
import random
import time
from contextlib import AbstractContextManager
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tasks_app import events, leases, webhook_events
from tasks_app.models import StepStatus, Task, TaskExecution
from tasks_app.owner_facts import known
from tasks_app.redact import secret_strings
from tools import registry
from tools.base import SideEffect
from tools.errors import DeadlineExceeded, ToolInputError
from xantuus import logs

from . import circuit, credits, fanout, react, replan, step_reads
from .adapt import adapted_plan, goal_of
from .approvals import decided, gate, hold_unknown_outcome
from .attempt import Attempt
from .dag import is_parallel
from .dispatch import enqueue
from .error_facts import MODEL_STEP, step_facts
from .error_policy import Verdict, decide
from .errors import DATABASE_DOWN, EngineError, ErrorKind, classify, describe
from .expressions import references, resolve
from .finish import complete_task, fail_task, unmet_goal
from .llm import get_provider
from .planner import is_reactive, version_of
from .step_record import save_row, step_event
from .step_secrets import known_to_step, masked_text, unseal
from .toolcontext import build_tool_context, reference_context, save_refreshed_credentials

log = logging.getLogger(__name__)

# A call that fails this close to the task's deadline was ended by it (its timeout was capped to it).
DEADLINE_SLACK_S = 0.05


def run_leased_step(task: Task, token: str) -> str:
    """Run the next step of a task whose lease `token` holds (agents/step_reads.py loaded it);
    returns what happened (for logs and tests)."""
    try:
        return _leased_step(task, token)
    except DATABASE_DOWN:  # the database went away: not the task's fault; the Celery task retries
        raise
    except Exception as exc:  # an engine fault: fail the task with its reason, never leave it leased
        if not leases.holds(task.id, token):  # a second delivery of a handed-over lease lost the race
            log.warning("step of task %s gave up: its lease is another wake-up's (%s)", task.id, describe(exc))
            return "not-leased"
        log.exception("step of task %s crashed", task.id)
        fail_task(task.id, token, f"engine error: {describe(exc)}")
        return "failed"


def _leased_step(task: Task, token: str) -> str:
    task_id = task.id
    limit_error = _limit_exceeded(task)
    if limit_error:
        fail_task(task_id, token, limit_error)
        return "failed"
    if is_parallel(task.plan):  # its steps run on workers of their own (agents/branch.py)
        return fanout.advance(task, token)
    number = task.current_step + 1
    logs.bind(taskId=task_id, run=task.attempts, step=number)  # every log line of this step names it
    earlier = step_reads.earlier_attempt(task)
    if earlier and earlier.status == StepStatus.RUNNING and earlier.side_effect == SideEffect.IRREVERSIBLE:
        hold_unknown_outcome(task, token, TaskExecution.objects.get(task_id=task_id, run=task.attempts, step=number))
        return "awaiting-approval"
    if credits.pause_if_over(task, token, credits.step_estimate(task, number), f"step {number}"):
        return "paused-credit-limit"  # resuming (more budget or credits) runs this step
    steps = _recorded_steps(task) if _needs_history(task, number) else []
    if replan.pending(task):  # the step before asked for a new plan: make it first (agents/replan.py)
        return replan.run(task, token, steps)
    started = time.monotonic()
    attempt = _reason(task, number, steps)
    if attempt is None:
        complete_task(task, token, steps)
        return "completed"
    if attempt.final_text is not None:  # the model's final answer
        return _finish(task, token, steps, attempt)
    attempt.retries = earlier.attempts if earlier else 0
    attempt.row_exists = earlier is not None
    attempt.plan_version = version_of(task.plan)
    attempt.deadline = started + (settings.AGENT_TIMEOUT_MS - task.execution_time) / 1000
    if attempt.error is None and attempt.output is None:
        verdict = gate(task, token, attempt)  # bound to this exact call; an edit a person approved runs instead
        if verdict.waiting:
            return "awaiting-approval"
        attempt.params = verdict.params if verdict.params is not None else attempt.params
        attempt.output = verdict.skipped
    if _has_side_effect(attempt):  # a handed-over lease may have reached two deliveries: one acts
        mine = leases.make_exclusive(task.id, token)
        if mine is None:
            return "not-leased"
        token = mine
    act(task, attempt, leases.keep_alive(task.id, token))
    attempt.token_credits = credits.tokens_cost(task, attempt)
    attempt.duration_ms = int((time.monotonic() - started) * 1000)
    return _observe(task, token, attempt)


def _has_side_effect(attempt: Attempt) -> bool:
    """Will the step call an action that is not a read?"""
    if attempt.error or attempt.output is not None:
        return False
    try:
        return registry.get_action(attempt.action).side_effect != SideEffect.READ
    except Exception:  # an unknown action fails in act(), with its own error
        return False


def _finish(task: Task, token: str, steps: list[dict[str, Any]], attempt: Attempt) -> str:
    """End a model-driven run honestly: completed only when the goal was met (see unmet_goal)."""
    unmet = unmet_goal(task, steps, attempt)
    if unmet:
        fail_task(task.id, token, unmet)
        return "failed"
    attempt.token_credits = credits.tokens_cost(task, attempt)
    complete_task(task, token, steps, final_text=attempt.final_text, tokens=attempt.tokens, attempt=attempt)
    return "completed"


def _limit_exceeded(task: Task) -> str | None:
    if task.tool_calls >= settings.AGENT_MAX_TOOL_CALLS:
        return f"task reached the limit of {settings.AGENT_MAX_TOOL_CALLS} tool calls (AGENT_MAX_TOOL_CALLS)"
    if task.execution_time >= settings.AGENT_TIMEOUT_MS:
        return _time_limit()
    return None


def _time_limit() -> str:
    return f"task exceeded its time limit of {settings.AGENT_TIMEOUT_MS} ms (AGENT_TIMEOUT_MS)"


def _out_of_time(attempt: Attempt, exc: Exception) -> bool:
    """Did the task's time limit, not the tool or its target, end this call?"""
    return isinstance(exc, DeadlineExceeded) or (
        attempt.deadline is not None and time.monotonic() >= attempt.deadline - DEADLINE_SLACK_S)


# the names a plan step may refer to that are not earlier steps (agents/toolcontext.py reference_context)
NOT_STEPS = frozenset({"user", "task", "config", "item"})


def _needs_history(task: Task, number: int) -> bool:
    """Does step `number` need the run's earlier results? A model-driven step, replanning, the end of
    the plan (its result) and a plan step that refers to an earlier one do; a step that refers to none
    does not read them, so step 100 reads no more than step 2."""
    plan = task.plan or {}
    steps = plan.get("steps") or []
    if is_reactive(plan) or replan.pending(task) or not 0 < number <= len(steps):
        return True
    step = steps[number - 1]
    return bool(references([step.get("params"), step.get("when")]) - NOT_STEPS)


def _recorded_steps(task: Task) -> list[dict[str, Any]]:
    rows = (TaskExecution.objects.filter(task_id=task.id, run=task.attempts, step__lte=task.current_step)
            .order_by("step").values("step", "action", "input", "output", "error", "reasoning", "status"))
    return [dict(row) for row in rows]


def _reason(task: Task, number: int, steps: list[dict[str, Any]]) -> Attempt | None:
    """The next action (or the model's final answer) as an Attempt; None when the plan is done."""
    plan = task.plan or {}
    if is_reactive(plan):
        held = decided(task, number)  # a person decided this step's call: it runs as approved, the model unasked
        if held is not None:
            return Attempt(number, held.action, held.params, masked_text(task, held.reasoning) or "",
                           tokens=held.tokens, output_tokens=held.output_tokens, output=held.output, error=held.error,
                           kind=ErrorKind.TOOL if held.error else None)
        try:
            decision = react.decide(get_provider(), goal=goal_of(task), steps=steps, model=task.agent_model,
                                    tools=(task.agent_config or {}).get("tools"))
        except Exception as exc:  # the model did not answer: retried when transient, else the task fails
            return Attempt(number, MODEL_STEP, {}, error=f"the model did not answer: {describe(exc)}",
                           kind=classify(exc))
        return Attempt(number, decision.action or "", decision.params, masked_text(task, decision.reasoning) or "",
                       tokens=decision.tokens, output_tokens=decision.output_tokens,
                       final_text=masked_text(task, decision.final_text) if decision.action is None else None,
                       goal_met=decision.goal_met)
    if number > len(plan.get("steps", [])):
        return None
    return planned_attempt(task, plan, number, steps)


def planned_attempt(task: Task, plan: dict[str, Any], number: int, steps: list[dict[str, Any]]) -> Attempt:
    """Step `number` of the plan with its references resolved against the recorded `steps`."""
    step = plan["steps"][number - 1]
    attempt = Attempt(number, step["action"], {}, step.get("description") or "")
    try:
        references = reference_context(task, plan, steps)
        if "item" in step:  # one item of a for_each step (agents/fanout.py)
            references["item"] = step["item"]
        attempt.params = unseal(resolve(step.get("params") or {}, references))  # sealed at rest (step_secrets)
        if step.get("when") and not resolve(step["when"], references):
            attempt.output = {"skipped": True, "because": f"{step['when']} is false"}  # a plan's if
    except Exception as exc:
        attempt.params, attempt.error, attempt.kind = dict(step.get("params") or {}), describe(exc), classify(exc)
    return attempt


def act(task: Task, attempt: Attempt, alive: AbstractContextManager[None]) -> None:
    """Call the tool (unless reasoning already failed or skipped it); a side effect gets its row first.

    `alive` renews what lets this worker run the step (the task's lease, or a parallel step's claim)."""
    if attempt.error or attempt.output is not None:
        return
    key = None  # the circuit this call answers to (tools.circuit_keys), known before the call
    try:
        action = registry.get_action(attempt.action)
        attempt.side_effect, attempt.credits = action.side_effect, action.credits
        key = action.circuit_key(attempt.params, task.user_id)
        # no circuit failing when the step read its owner (step_reads): nothing to check or to reset
        failing = known(task, circuit.ANY_FAILING) is not False
        if failing and _held_by_circuit(attempt, key):
            return
        if action.side_effect != SideEffect.READ:
            save_row(task, attempt, StepStatus.RUNNING)  # committed before the call: a crash leaves a trace
        tool = registry.tools()[action.tool]
        context = build_tool_context(task, attempt.number, uses_credentials=tool.uses_credentials,
                                     uses_groups=tool.uses_groups)
        context.deadline = attempt.deadline  # tools cap their timeouts with context.remaining()
        stored = copy.deepcopy(context.credentials)
        attempt.secrets = context.secrets  # the same set: what the tool marks while it runs counts too
        context.secrets.update(secret_strings(stored), known_to_step(task, attempt.params))
        with alive:
            attempt.output = action.run(attempt.params, context)
        save_refreshed_credentials(task, stored, context)
        attempt.tokens += context.tokens_used
        attempt.output_tokens += context.output_tokens_used
        attempt.tool_state = context.state
        attempt.compensation = context.compensation
        if failing:
            circuit.record_success(key)
    except DATABASE_DOWN:
        raise
    except Exception as exc:
        if _out_of_time(attempt, exc):  # not the target's failure: no retry, no circuit, the task fails
            attempt.error, attempt.kind, attempt.out_of_time = _time_limit(), ErrorKind.FATAL, True
            return
        attempt.error, attempt.kind = describe(exc), classify(exc)
        attempt.rejected_input = isinstance(exc, ToolInputError)
        if key and attempt.kind == ErrorKind.TRANSIENT:  # an outage; a 4xx or a bad input is an answer
            circuit.record_failure(key, attempt.error)


def _held_by_circuit(attempt: Attempt, key: str) -> bool:
    """Is the call's circuit open? Then the step waits for it, or fails once it has waited too long."""
    verdict = circuit.check(key)
    if verdict.gave_up:
        attempt.error, attempt.kind = verdict.gave_up, ErrorKind.TOOL
    elif not verdict.allowed:
        attempt.wait_until = verdict.retry_at
    return not verdict.allowed


def _observe(task: Task, token: str, attempt: Attempt) -> str:
    """Act on agents/error_policy.py's verdict for how the step ended."""
    decision = decide(step_facts(task, attempt))
    if decision.verdict is Verdict.WAIT:
        return _wait_for_circuit(task, token, attempt)
    if attempt.kind == ErrorKind.TRANSIENT:  # the row counts every attempt, the last one too
        attempt.retries += 1
    if decision.verdict is Verdict.RETRY:
        return _retry_later(task, token, attempt)
    if attempt.error:
        attempt.error += decision.error_note
    if decision.verdict is Verdict.FAIL:
        with transaction.atomic():
            save_row(task, attempt, StepStatus.FAILED, traced=True)
            what = "has a wrong plan" if attempt.kind == ErrorKind.PLANNING else "failed"
            why = f"{attempt.error}{decision.fail_note}"
            fail_task(task.id, token, f"step {attempt.number} ({attempt.action}) {what}: {why}", attempt=attempt)
        return "failed"
    change = {"plan": adapted_plan(task.plan or {}, attempt.number)} if decision.verdict is Verdict.ADAPT else {}
    if decision.verdict is Verdict.REPLAN:  # the next wake-up replans (or refines) first
        change = {"plan": replan.marked(task, attempt)}
    next_token = leases.new_token()
    with transaction.atomic():
        save_row(task, attempt, StepStatus.FAILED if attempt.error else StepStatus.COMPLETED, traced=True)
        _advance(task, token, next_token, attempt, **change)
    enqueue("step", task.id, priority=task.priority, lease=next_token)
    return "step-failed-observed" if attempt.error else "step-completed"


def _advance(task: Task, token: str, next_token: str, attempt: Attempt, **extra: Any) -> None:
    """Record the finished step on the task, hand the lease to the next step's wake-up, and publish the
    step event: the task's counters, the lease and the event's number in one UPDATE (the step's trace
    entry went with its row)."""
    fields = {
        "current_step": attempt.number, "tool_calls": task.tool_calls + 1,
        "total_tokens": task.total_tokens + attempt.tokens, "total_credits": task.total_credits + attempt.charged,
        "execution_time": task.execution_time + attempt.duration_ms, **extra,
    }
    if attempt.tool_state:
        fields["tool_state"] = attempt.tool_state
    seq = leases.hand_over(task.id, token, next_token, **fields)
    if seq is None:
        raise EngineError(f"lost the lease of task {task.id} during step {attempt.number}")
    credits.charge_step(task, attempt)  # in the step's transaction: charged exactly when it is recorded
    for name, value in fields.items():
        setattr(task, name, value)
    event = step_event(task, attempt)
    events.store(task.id, task.user_id, seq, "step", event)
    webhook_events.step_finished(task, event, attempt.secrets)  # nothing to read unless a step webhook is set


def _retry_later(task: Task, token: str, attempt: Attempt) -> str:
    """Keep the step, note the attempt, and wake it again after exponential backoff with jitter."""
    with transaction.atomic():
        save_row(task, attempt, StepStatus.FAILED)
        leases.release(task.id, token, execution_time=task.execution_time + attempt.duration_ms)
    delay = min(60.0, settings.AGENT_RETRY_BASE_S * 2 ** (attempt.retries - 1)) * random.uniform(0.5, 1.0)
    enqueue("step", task.id, priority=task.priority, countdown=delay)
    return "retry-scheduled"


def _wait_for_circuit(task: Task, token: str, attempt: Attempt) -> str:
    """The tool's circuit is open: release the task and look again when the cool-down ends."""
    leases.release(task.id, token)
    delay = max(0.05, (attempt.wait_until - timezone.now()).total_seconds()) if attempt.wait_until else 1.0
    enqueue("step", task.id, priority=task.priority, countdown=delay + random.uniform(0, 0.25))
    return "waiting-for-circuit"
