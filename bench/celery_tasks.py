"""The floor layers: a Celery task that re-enqueues itself, optionally with the engine's writes and events.

mode "floor": only the broker. "db": each hop also inserts an execution row, updates the
task row, debits the step in the credit ledger (the product's credit_ledger.debit, as the engine's
step does) and inserts an event, in one transaction (what the engine writes per step).
"events": and publishes the event to the task's and the user's channel groups after commit,
through the product's events.publish, as the engine does.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from celery import shared_task
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bench import config
from bench.probe import signal_done


@shared_task(name="bench.hop", ignore_result=True)
def hop(chain_id: str, step: int, total: int, mode: str, task_id: str = "", user_id: int = 0) -> None:
    if mode != "floor":
        _write_step(chain_id, step, mode, task_id, user_id)
    if step < total and mode == "floor":
        send(chain_id, step + 1, total, mode)  # no database: on_commit would open a connection
    elif step < total:
        transaction.on_commit(lambda: send(chain_id, step + 1, total, mode, task_id, user_id))
    else:
        signal_done(chain_id)


def send(chain_id: str, step: int, total: int, mode: str, task_id: str = "", user_id: int = 0) -> None:
    """Enqueue a hop as the engine enqueues a step (same queue, same retry policy)."""
    hop.apply_async(args=[chain_id, step, total, mode, task_id, user_id], queue=config.QUEUE,
                    retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5})


def _write_step(chain_id: str, step: int, mode: str, task_id: str, user_id: int) -> None:
    from tasks_app.credit_ledger import debit
    from tasks_app.events import live_message, publish
    from tasks_app.models import Task, TaskEvent, TaskExecution

    payload: dict[str, Any] = {"step": step, "action": "noop.pass", "status": "completed"}
    with transaction.atomic():
        TaskExecution.objects.create(task_id=task_id, run=1, step=step, action="noop.pass", tool="noop",
                                     input={"n": step}, output={"n": step}, status="completed",
                                     idempotency_key=f"task:{task_id}:run:1:step:{step}",
                                     completed_at=timezone.now())
        Task.objects.filter(id=task_id).update(current_step=step, event_seq=F("event_seq") + 1,
                                               tool_calls=F("tool_calls") + 1, updated_at=timezone.now())
        debit(task=SimpleNamespace(id=task_id, user_id=user_id, agent_type=None), run=1, step=step, reason="tool",
              amount=1, action="noop.pass")
        TaskEvent.objects.create(task_id=task_id, seq=step, type="step", payload=payload)
        if mode == "events":
            message = live_message({"taskId": task_id, "seq": step, "type": "step", **payload})
            transaction.on_commit(lambda: publish(task_id, user_id, message))
