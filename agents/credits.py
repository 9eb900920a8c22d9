"""Credits in the engine: what a step costs, the check before it, and its debit in the ledger.

A step costs its action's flat credits when it succeeds (tools/base.py Action.credits) plus
the model tokens it used (the reasoning of a model-driven step, a tool's own model calls), priced per model
by AGENT_TOKEN_PRICES. Before a step (and before planning) the expected cost is checked
against the run's budget (Task.credit_budget) and the owner's balance; when it would exceed
either, the task pauses with pause_reason "credit_limit" and the owner is told. Debits are
written in the transaction that records the step, unique per (task, run, step, reason), so
a step is never charged twice. Nothing here decides what a step does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from tasks_app import credit_ledger, leases, lifecycle
from tasks_app.credit_ledger import CreditEntry
from tasks_app.models import Task, TaskExecution
from tools import registry

from .error_policy import Facts, Verdict, decide
from .notify import notify
from .planner import PLANNING_CREDITS, is_reactive
from .pricing import token_credits
from .types import build_plan

if TYPE_CHECKING:
    from .attempt import Attempt

PAUSE_REASON = "credit_limit"


def model_of(task: Task) -> str:
    return task.agent_model or settings.AGENT_DEFAULT_MODEL


def tokens_cost(task: Task, attempt: Attempt) -> int:
    """What the step's model tokens cost (its reasoning and its tool's model calls), at the task's model."""
    output_tokens = min(attempt.output_tokens, attempt.tokens)
    return token_credits(model_of(task), attempt.tokens - output_tokens, output_tokens)


def step_estimate(task: Task, number: int) -> int:
    """The credits step `number` is expected to cost, known before it runs.

    A plan step: its action's flat cost (a tool's own model calls are known only afterwards).
    A model-driven step: the last reasoning step's token cost in this run (the history only
    grows), else the seed's floor for a reasoning step.
    """
    plan = task.plan or {}
    if is_reactive(plan):
        last = (TaskExecution.objects.filter(task_id=task.id, run=task.attempts, tokens__gt=0)
                .order_by("-step").values_list("credits", flat=True).first())
        return int(last) if last else PLANNING_CREDITS
    steps = plan.get("steps") or []
    if not 1 <= number <= len(steps):
        return 0
    try:
        return registry.get_action(steps[number - 1]["action"]).credits
    except Exception:  # an unknown action fails in its step, with its own error
        return 0


def planning_estimate(task: Task) -> int:
    """Planning's expected cost: nothing for a person's own plan, the seed's floor otherwise
    (a template's price, and what a model's planning is expected to cost before it is made)."""
    plan = task.plan if task.agent_type is None else None
    by = ((plan or {}).get("planning") or {}).get("by", "user")  # who made a stored plan (agents/planner.py)
    return 0 if plan and not is_reactive(plan) and by == "user" else PLANNING_CREDITS


def over_limit(task: Task, cost: int, what: str) -> str | None:
    """Why spending `cost` more credits on `what` is not allowed now, or None when it is."""
    if cost <= 0:
        return None
    if task.credit_budget is not None and task.total_credits + cost > task.credit_budget:
        left = max(0, task.credit_budget - task.total_credits)
        return (f"{what} would cost {cost} credits, but the task's budget of {task.credit_budget} credits has "
                f"{left} left (this run spent {task.total_credits}): raise creditBudget, then resume")
    balance = credit_ledger.balance_of_owner(task)
    if cost > balance:
        return (f"{what} would cost {cost} credits, but your credit balance is {balance}: get more credits "
                f"granted, then resume")
    return None


def pause_if_over(task: Task, token: str, cost: int, what: str) -> bool:
    """Pause the task (credit_limit) and tell its owner when `cost` is over a limit; True if paused.

    The step has not started: resuming runs it then, once the budget or the balance allows."""
    reason = over_limit(task, cost, what)
    if decide(Facts(over_credit_limit=reason is not None)).verdict is not Verdict.PAUSE:  # agents/error_policy.py
        return False
    with transaction.atomic():
        paused = lifecycle.apply("pause", task_id=task.id, pause_reason=PAUSE_REASON)
        leases.release(task.id, token)
        if paused:
            notify(task, PAUSE_REASON, f"{task.title}: paused, {reason}.")
    return True


def charge_step(task: Task, attempt: Attempt) -> None:
    """Debit the finished step: its action's flat cost when it succeeded (tool) and its tokens, each once.

    Call it in the transaction that records the step; attempt.charged is what it debits."""
    common: dict[str, Any] = {"task": task, "run": task.attempts, "step": attempt.number, "action": attempt.action}
    credit_ledger.debit(reason=CreditEntry.Reason.TOOL, amount=attempt.charged - attempt.token_credits, **common)
    output_tokens = min(attempt.output_tokens, attempt.tokens)
    credit_ledger.debit(reason=CreditEntry.Reason.TOKENS, amount=attempt.token_credits, model=model_of(task),
                        input_tokens=attempt.tokens - output_tokens, output_tokens=output_tokens, **common)


def charge_planning(task: Task, credits: int, tokens: int = 0) -> None:
    credit_ledger.debit(task=task, run=task.attempts, step=0, reason=CreditEntry.Reason.PLANNING, amount=credits,
                        action="plan", input_tokens=tokens)


def estimate(task: Task) -> tuple[int | None, int | None]:
    """A run's expected (credits, milliseconds), planning included, before it starts.

    From the task's plan once planned (the plan's estimatedCredits and estimatedDuration), or
    from its agent type's template before; a model-driven run has no estimate (None)."""
    plan = task.plan if task.plan and not is_reactive(task.plan) else None
    if plan is None and task.agent_type:
        plan = _template(task)
    if plan is None:
        return None, None
    planning = task.plan_credits if task.plan else planning_estimate(task)
    return int(plan.get("estimatedCredits") or 0) + planning, int(plan.get("estimatedDuration") or 0) or None


def _template(task: Task) -> dict[str, Any] | None:
    try:
        goal = "\n\n".join(filter(None, [task.title, task.description]))
        return build_plan(task.agent_type, task.agent_config, goal=goal).to_json()  # type: ignore[arg-type]
    except Exception:  # an invalid config is reported when the run plans; no estimate until then
        return None
