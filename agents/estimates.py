"""Estimates from history: a plan's credits and duration from recorded steps of the same actions.

Each step counts the median of the last AGENT_ESTIMATE_HISTORY completed steps of its action,
the owner's own when the action's latest OWNER_SCAN have any, else everyone's; an action never run yet counts its
catalog credits and a share of the duration the plan declares. Reads only.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from tasks_app.models import StepStatus, TaskExecution
from tools import registry
from tools.errors import ToolInputError

from .dag import critical_path, is_parallel
from .pricing import token_credits


@dataclass(frozen=True)
class Estimate:
    credits: int
    duration: int  # milliseconds
    tokens: int
    from_history: int  # how many steps the history covered

    def to_json(self) -> dict[str, int]:
        return {"estimatedCredits": self.credits, "estimatedDuration": self.duration,
                "estimatedTokens": self.tokens, "stepsFromHistory": self.from_history}


@dataclass(frozen=True)
class ActionHistory:
    credits: int
    duration: int
    tokens: int


def credits_for_tokens(model: str | None, input_tokens: int, output_tokens: int) -> int:
    """What a model call's tokens cost, priced like every other model use (AGENT_TOKEN_PRICES)."""
    return token_credits(model, input_tokens, output_tokens)


# The owner's history is looked for among the action's latest OWNER_SCAN completed steps: read
# by the action's index and bounded, where "the owner's, else everyone's" as one query would walk
# every step anyone ran of a popular action that this owner never ran (50 ms for 30,000 steps);
# it runs in the request that starts a run (agents/first_plan.py).
OWNER_SCAN = 200


def action_history(action: str, owner_id: int | None) -> ActionHistory | None:
    """Medians of the action's recent completed steps: the owner's if any among the action's latest
    OWNER_SCAN, else everyone's."""
    latest = list(TaskExecution.objects.filter(action=action, status=StepStatus.COMPLETED).order_by("-completed_at")
                  .values_list("task__user_id", "credits", "duration", "tokens")[:OWNER_SCAN])
    latest = [row for row in latest if row[0] == owner_id] or latest
    recent = [row[1:] for row in latest[: settings.AGENT_ESTIMATE_HISTORY]]
    if not recent:
        return None
    credits, durations, tokens = zip(*recent, strict=True)
    return ActionHistory(round(statistics.median(credits)), round(statistics.median(durations)),
                         round(statistics.median(tokens)))


def estimate(steps: list[dict[str, Any]], *, owner_id: int | None, declared_duration: int = 0) -> Estimate:
    """The cost of running `steps` (plan steps as JSON): one after another, or as a parallel plan runs them."""
    histories = {action: action_history(action, owner_id) for action in {s["action"] for s in steps}}
    known = [h.duration for s in steps if (h := histories[s["action"]]) is not None]
    unknown = len(steps) - len(known)
    plan = {"steps": steps}
    parallel = is_parallel(plan)
    if declared_duration and unknown:  # the plan's own guess covers the steps nobody ran yet
        # A parallel plan's guess is the time of its longest path: shared by the steps on it.
        share = declared_duration // (critical_path(plan, [1] * len(steps)) if parallel else len(steps))
    else:
        share = round(statistics.median(known)) if known else 0
    credits = tokens = 0
    for step in steps:
        history = histories[step["action"]]
        credits += history.credits if history else _catalog_credits(step["action"])
        tokens += history.tokens if history else 0
    durations = [h.duration if (h := histories[s["action"]]) is not None else share for s in steps]
    duration = critical_path(plan, durations) if parallel else sum(durations)
    return Estimate(credits=credits, duration=duration, tokens=tokens, from_history=len(known))


def _catalog_credits(action: str) -> int:
    try:
        return registry.get_action(action).credits
    except ToolInputError:
        return 0
