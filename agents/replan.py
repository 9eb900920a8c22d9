"""Replanning and refinement during a run: the model rewrites the rest of the plan, with context.

The seed's "planning errors: replan with more context". When step k fails with a planning
error (a reference that does not resolve), an input its tool rejects, or a tool error in a
plan the model wrote, the executor records the step and marks the plan `pending`; the next
wake-up (run) gives the model the goal, every planned step with its result or error, and the
problem; the steps it submits replace the rest of the plan as a new version. A model's plan
whose step comes back empty while later steps rely on it is refined the same way (the model
may keep the plan). At most AGENT_MAX_REPLANS of both per run. Without a model, or with
agentConfig.replan false, the run fails as before, with its reason. Which failures replan,
and when a planning call is retried, is agents/error_policy.py's decision.
"""
from __future__ import annotations

import json
import random
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from tasks_app import credit_ledger, leases
from tasks_app.credit_ledger import CreditEntry
from tasks_app.models import Task
from tasks_app.redact import redact_output

from . import credits, estimates, model_planner, plan_prompt, plan_record
from .adapt import adapted_plan
from .dispatch import enqueue
from .error_policy import Facts, Verdict, decide
from .errors import DATABASE_DOWN, EngineError, classify, describe
from .expressions import references
from .finish import complete_task, fail_task
from .llm import get_provider
from .llm.base import LLMUnavailable
from .model_planner import Outcome, PlanningFailed
from .plan import Plan
from .planner import PLANNING_CREDITS, base_plan, checked, connected_accounts, guidance, meta
from .trace import with_plan

if TYPE_CHECKING:
    from .attempt import Attempt


def marked(task: Task, attempt: Attempt) -> dict[str, Any]:
    """The plan with a replan (after a failed step) or a refinement (after an empty one) pending:
    the next wake-up asks the model first (run). Called once error_policy.decide said REPLAN."""
    plan = task.plan or {}
    number, action = attempt.number, attempt.action
    if attempt.error:
        problem = f"step {number} ({action}) failed: {redact_output(attempt.error, attempt.secrets)}"
        pending = {"kind": "replan", "atStep": number, "problem": problem}
    else:
        shown = json.dumps(redact_output(attempt.output, attempt.secrets), ensure_ascii=False, default=str)[:500]
        pending = {"kind": "refine", "atStep": number,
                   "problem": f"step {number} ({action}) found nothing ({shown}), and later steps rely on it"}
    return {**plan, "planning": {**meta(plan), "pending": pending}}


def replans_so_far(plan: dict[str, Any] | None) -> int:
    return int(meta(plan).get("replans") or 0)


def pending(task: Task) -> dict[str, Any] | None:
    """The replan or refinement due before the next step (only right after the step that asked)."""
    due = meta(task.plan).get("pending")
    return due if isinstance(due, dict) and due.get("atStep") == task.current_step else None


def contradicted(plan: dict[str, Any], attempt: Attempt) -> bool:
    """A model's step found nothing (an empty list, no match) and a later step refers to it."""
    if meta(plan).get("by") != "model" or not is_empty(attempt.output):
        return False
    steps = plan["steps"]
    names = {f"step{attempt.number}", steps[attempt.number - 1].get("id") or ""}
    later = steps[attempt.number:]
    return any(names & (references(s.get("params")) | references(s.get("when")) | set(s.get("dependsOn") or []))
               for s in later)


def is_empty(output: Any) -> bool:
    """Nothing found: None, "", [] or {}, or an object whose lists are all empty."""
    if hasattr(output, "model_dump"):
        output = output.model_dump(by_alias=True)
    if output is None or output in ("", [], {}):
        return True
    if isinstance(output, dict):
        lists = [value for value in output.values() if isinstance(value, list)]
        return bool(lists) and not any(lists)
    return False


def enabled(task: Task) -> bool:
    if (task.agent_config or {}).get("replan") is False:
        return False
    try:
        return get_provider().name != "offline"
    except LLMUnavailable:
        return False


def run(task: Task, token: str, steps: list[dict[str, Any]]) -> str:
    """The wake-up after a step marked the plan pending: ask the model, store what it decided."""
    due = pending(task) or {}
    if credits.pause_if_over(task, token, PLANNING_CREDITS, f"replanning after step {due.get('atStep')}"):
        return "paused-credit-limit"  # resuming replans then
    started = time.monotonic()
    try:
        with leases.keep_alive(task.id, token):
            outcome = _ask(task, steps, due)
    except DATABASE_DOWN:
        raise
    except Exception as exc:
        if decide(model_failure(exc, int(due.get("retries") or 0))).verdict is Verdict.RETRY:
            return _retry(task, token, due)
        charge_gave_up(task, token, exc, at_step=int(due.get("atStep") or 0))
        fail_task(task.id, token, f"replanning after step {due.get('atStep')} failed: {describe(exc)}")
        return "failed"
    return _apply(task, token, steps, due, outcome, int((time.monotonic() - started) * 1000))


def _ask(task: Task, steps: list[dict[str, Any]], due: dict[str, Any]) -> Outcome:
    plan, at = task.plan or {}, int(due["atStep"])
    config = task.agent_config or {}
    tools = config.get("tools")
    kept = plan["steps"][:at]
    goal = "\n\n".join(filter(None, [task.title, task.description]))
    prompt = plan_prompt.progress_message(
        goal=goal, guidance=guidance(task.agent_type, config, goal), connected=connected_accounts(task.user_id),
        plan=plan, steps=steps, problem=due["problem"], at_step=at, refine=due["kind"] == "refine")
    return model_planner.converse(
        get_provider(), system=plan_prompt.system_prompt(tools), prompt=prompt,
        tools=model_planner.tools_for(due["kind"]), model=model_planner.planning_model(task.agent_model),
        check=lambda data: _check_rest(data, kept, tools))


def _check_rest(data: dict[str, Any], kept: list[dict[str, Any]], tools: list[str] | None,
                ) -> tuple[Plan | None, list[str]]:
    """The submitted steps after the ones that ran, checked as one plan (numbers and references)."""
    if not isinstance(data.get("steps"), list) or not data["steps"]:
        return None, ["steps: submit at least one remaining step, or call finish"]
    return checked({**data, "steps": [*kept, *data["steps"]]}, tools=tools, literal_from=len(kept) + 1)


def _apply(task: Task, token: str, steps: list[dict[str, Any]], due: dict[str, Any], outcome: Outcome,
           elapsed: int) -> str:
    at, info = int(due["atStep"]), meta(task.plan)
    notes = {key: value for key, value in info.items() if key != "pending"}
    notes["replans"] = int(info.get("replans") or 0) + 1
    credits = estimates.credits_for_tokens(outcome.model, outcome.input_tokens, outcome.output_tokens)
    usage = {"plan_tokens": task.plan_tokens + outcome.tokens, "plan_credits": task.plan_credits + credits,
             "total_tokens": task.total_tokens + outcome.tokens, "total_credits": task.total_credits + credits,
             "execution_time": task.execution_time + elapsed}
    if outcome.kind == "finish":
        return _finish(task, token, steps, due, outcome, usage, credits)
    with transaction.atomic():
        if outcome.kind == "keep":
            plan = {**(task.plan or {}), "planning": notes}
            trace = with_plan(task, _note(due, outcome, credits, kept=True))
        else:
            notes["version"] = int(info.get("version") or 1) + 1
            plan = _next_plan(task, outcome, at, notes, elapsed)
            trace = plan_record.record(
                task, version=notes["version"], kind=due["kind"], source="model", at_step=at,
                reason=f"{due['problem']}; {model_planner.describe_outcome(outcome)}", plan=plan,
                tokens=outcome.tokens, credits=credits, model=outcome.model)
        total = len(plan["steps"]) if plan.get("steps") else task.total_steps
        if not leases.release(task.id, token, plan=plan, total_steps=total, execution_trace=trace, **usage):
            raise EngineError(f"lost the lease of task {task.id} while replanning")
        _debit(task, at, credits, outcome)
    enqueue("step", task.id, priority=task.priority)
    return "replanned"


def _next_plan(task: Task, outcome: Outcome, at: int, notes: dict[str, Any], elapsed: int) -> dict[str, Any]:
    """The new version: the steps that ran, then the model's; estimated as done so far plus the rest."""
    if outcome.plan is None:  # it explores: the rest of the run is reactive, and must end honestly
        current = {key: value for key, value in (task.plan or {}).items() if key != "planning"}
        return {**adapted_plan(current, at), "planning": notes}
    data = outcome.plan.to_json()
    rest = estimates.estimate(data["steps"][at:], owner_id=task.user_id,
                              declared_duration=outcome.plan.estimated_duration)
    data.update(estimatedCredits=task.total_credits - task.plan_credits + rest.credits,
                estimatedDuration=task.execution_time + elapsed + rest.duration)
    return {**data, "planning": {**notes, "estimate": rest.to_json()}}


def _finish(task: Task, token: str, steps: list[dict[str, Any]], due: dict[str, Any], outcome: Outcome,
            usage: dict[str, Any], credits: int) -> str:
    """The model says the results so far meet the goal, or that it cannot be met: end the run so."""
    trace = with_plan(task, _note(due, outcome, credits, kept=False))
    with transaction.atomic():
        Task.objects.filter(id=task.id, lease_owner=token).update(execution_trace=trace, **usage)
        _debit(task, int(due["atStep"]), credits, outcome)
    for name, value in {**usage, "execution_trace": trace}.items():
        setattr(task, name, value)
    if outcome.goal_met:
        complete_task(task, token, steps, final_text=outcome.text)
        return "completed"
    fail_task(task.id, token, f"the goal was not met: {outcome.text.strip()[:2_000] or '(no answer)'}")
    return "failed"


def _note(due: dict[str, Any], outcome: Outcome, credits: int, *, kept: bool) -> dict[str, Any]:
    """A trace entry for a planning call that made no new version (kept the plan, or finished)."""
    entry = {"kind": due["kind"], "atStep": due["atStep"], "reason": due["problem"], "tokens": outcome.tokens,
             "credits": credits, "decision": "keep" if kept else "finish", "said": outcome.text[:2_000]}
    if not kept:
        entry["goalMet"] = bool(outcome.goal_met)
    return entry


def charge_gave_up(task: Task, token: str, exc: BaseException, *, at_step: int) -> None:
    """A planning conversation that gave up (no valid plan) still spent its tokens: record and charge them."""
    if not isinstance(exc, PlanningFailed) or not exc.input_tokens + exc.output_tokens:
        return
    spent = Outcome("failed", input_tokens=exc.input_tokens, output_tokens=exc.output_tokens,
                    model=model_planner.planning_model(task.agent_model))
    cost = estimates.credits_for_tokens(spent.model, spent.input_tokens, spent.output_tokens)
    with transaction.atomic():
        Task.objects.filter(id=task.id, lease_owner=token).update(
            plan_tokens=task.plan_tokens + spent.tokens, plan_credits=task.plan_credits + cost,
            total_tokens=task.total_tokens + spent.tokens, total_credits=task.total_credits + cost)
        _debit(task, at_step, cost, spent)


def _debit(task: Task, at: int, amount: int, outcome: Outcome) -> None:
    """The planning call's charge in the ledger, once per run and step (0: the run's first plan)."""
    credit_ledger.debit(task=task, run=task.attempts, step=at, reason=CreditEntry.Reason.PLANNING, amount=amount,
                        action="replan" if at else "plan", model=outcome.model[:100],
                        input_tokens=outcome.input_tokens, output_tokens=outcome.output_tokens)


def _retry(task: Task, token: str, due: dict[str, Any]) -> str:
    """The model is overloaded or rate limited: keep the step pending and ask again after a backoff."""
    retries = int(due.get("retries") or 0) + 1
    plan = {**(task.plan or {}), "planning": {**meta(task.plan), "pending": {**due, "retries": retries}}}
    with transaction.atomic():
        leases.release(task.id, token, plan=plan)
        enqueue("step", task.id, priority=task.priority, countdown=_backoff(retries))
    return "retry-scheduled"


def retry_planning_later(task: Task, token: str, exc: BaseException) -> bool:
    """Planning a run hit a transient model error: plan again after a backoff; False when out of tries."""
    if base_plan(task.plan) is not None:  # never over a person's plan: the count below would replace it
        return False
    retries = int(meta(task.plan).get("planRetries") or 0)
    if decide(model_failure(exc, retries)).verdict is not Verdict.RETRY:
        return False
    retries += 1
    with transaction.atomic():
        leases.release(task.id, token, plan={"planning": {"planRetries": retries}})
        enqueue("plan", task.id, priority=task.priority, countdown=_backoff(retries))
    return True


def model_failure(exc: BaseException, retries: int) -> Facts:
    """The facts of a planning call that failed (the model itself: never observed, only retried)."""
    return Facts(kind=classify(exc), retries=retries, max_retries=settings.AGENT_MAX_RETRIES, model_step=True)


def _backoff(retries: int) -> float:
    return min(60.0, settings.AGENT_RETRY_BASE_S * 2 ** (retries - 1)) * random.uniform(0.5, 1.0)
