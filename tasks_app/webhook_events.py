"""What a webhook says about a task: the event's data, built from the task and redacted.

Called by the engine in the transaction of what happened (a notification, a finished step),
so a delivery exists exactly when the event did. The data never carries a secret: values
pass tasks_app.redact.redact_output with the user's stored credentials and the operator's keys.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef

from . import credentials, notification_prefs, webhook_delivery
from .control_data import WebhookEndpoint
from .models import Task
from .owner_facts import known
from .redact import redact_output, secret_strings

SUMMARY_CHARS = 1_000
STEP_FIELDS = ("step", "action", "status", "error", "progress", "currentStep", "totalSteps")


def summary_of(result: Any, depth: int = 0) -> str | None:
    """A result's own summary (its summary, message or report; a plan's final output), shortened."""
    if isinstance(result, str) and result:
        return result if len(result) <= SUMMARY_CHARS else result[:SUMMARY_CHARS] + "…"
    if not isinstance(result, dict) or depth > 2:
        return None
    for key in ("summary", "message", "report"):
        if isinstance(result.get(key), str) and result[key]:
            return summary_of(result[key], depth + 1)
    inner = result.get("final") if depth == 0 else result.get("result")  # a plan's result: its last step's output
    return summary_of(inner, depth + 1) if inner is not None else None


def _known_secrets(user_id: int, extra: Iterable[str] = ()) -> list[str]:
    return [*secret_strings(credentials.load_all(user_id=user_id)), *extra]


def task_notified(task: Task, kind: str, message: str, *, note_id: int) -> list[str]:
    """The deliveries of one notification (completed, failed, approval_needed, credit_limit)."""
    if not WebhookEndpoint.objects.filter(user_id=task.user_id, enabled=True).exists():
        return []  # most users: no webhook, nothing more to read or decrypt
    if kind not in notification_prefs.for_user(task.user_id).webhook_kinds:
        return []
    found = Task.objects.filter(id=task.id).values("status", "result", "error", "attempts").first()
    row: dict[str, Any] = dict(found) if found else {}
    data = {"taskId": task.id, "title": task.title, "agentType": task.agent_type, "status": row.get("status"),
            "run": row.get("attempts"), "message": message[:SUMMARY_CHARS], "summary": summary_of(row.get("result")),
            "error": (row.get("error") or "")[:SUMMARY_CHARS] or None}
    return webhook_delivery.enqueue(user_id=task.user_id, event=kind, key=f"notification:{note_id}", task_id=task.id,
                                    data=redact_output(data, _known_secrets(task.user_id)))


WANTS_STEPS = "owner_wants_step_webhooks"


def owner_facts() -> dict[str, Any]:
    """Whether the owner has a step webhook (tasks_app/owner_facts.py): read with the step's owner."""
    return {WANTS_STEPS: Exists(_step_endpoints().filter(user_id=OuterRef("user_id")))}


def _step_endpoints() -> Any:
    return WebhookEndpoint.objects.filter(enabled=True, wants_step=True)


def step_finished(task: Task, event: dict[str, Any], secrets: Iterable[str] = ()) -> list[str]:
    """The deliveries of a finished step, only for users with a step webhook (known from the step's read
    of its owner, else one indexed EXISTS)."""
    wanted = known(task, WANTS_STEPS)
    if wanted is False or (wanted is None and not _step_endpoints().filter(user_id=task.user_id).exists()):
        return []
    if "step" not in notification_prefs.for_user(task.user_id).webhook_kinds:
        return []
    data = {"taskId": task.id, "title": task.title, "run": task.attempts,
            **{name: event.get(name) for name in STEP_FIELDS}}
    return webhook_delivery.enqueue(
        user_id=task.user_id, event="step", key=f"{task.id}:run:{task.attempts}:step:{event.get('step')}",
        task_id=task.id, data=redact_output(data, _known_secrets(task.user_id, secrets)))
