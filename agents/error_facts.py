"""The facts of a finished step that agents/error_policy.decide judges, read from the task and its attempt.

Kept apart from the policy so that stays pure: this is the one place that asks the settings,
the plan's metadata and the model configuration. A fact that cannot matter for the step (can
the run adapt, after a success) is not looked up and stays False.
"""
from __future__ import annotations

from django.conf import settings

from tasks_app.models import Task

from . import replan
from .adapt import can_adapt
from .attempt import Attempt
from .error_policy import ErrorKind, Facts
from .planner import is_reactive, meta

# The pseudo-action of a free-form step whose model did not answer: retried while transient,
# then it fails the run with the model's error (there is nothing to observe).
MODEL_STEP = "llm.reason"


def step_facts(task: Task, attempt: Attempt) -> Facts:
    plan = task.plan or {}
    reactive = is_reactive(plan)
    failed = bool(attempt.error)
    planned = not reactive and bool(plan.get("steps"))  # a plan the model could rewrite or refine
    contradicted = planned and not failed and replan.contradicted(plan, attempt)
    return Facts(
        kind=(attempt.kind or ErrorKind.FATAL) if failed else None,
        retries=attempt.retries, max_retries=settings.AGENT_MAX_RETRIES,
        reactive=reactive, model_step=attempt.action == MODEL_STEP, rejected_input=attempt.rejected_input,
        plan_by_model=meta(plan).get("by") == "model", contradicted=contradicted,
        replans=replan.replans_so_far(plan), max_replans=settings.AGENT_MAX_REPLANS,
        can_replan=(failed or contradicted) and planned and replan.enabled(task),
        can_adapt=failed and not reactive and can_adapt(task),
        out_of_time=attempt.out_of_time, circuit_open=attempt.wait_until is not None,
    )
