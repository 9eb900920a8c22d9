"""In-process steps run as a worker would run them: with the wake-up the engine sent.

A wake-up may carry more than the task id (a lease handed over to the next step, say), so calling
`orchestrator.step(task_id)` by hand would not be the step a worker runs. Every Celery message this
process sends is recorded here as it goes (and still sent, so its cost stays in the step), and
`run_next` calls the engine function that the message's Celery task calls (agents/tasks.py), with
the message's own args and kwargs, minus the broker hop.
"""
from __future__ import annotations

from typing import Any

ENGINE = {"agents.tasks.run_step": "step", "agents.tasks.plan_task": "plan"}  # Celery task -> orchestrator.X
_sent: dict[str, tuple[str, list[Any], dict[str, Any]]] = {}  # task id -> the last wake-up sent for it


def install() -> None:
    """Record every wake-up that current_app.send_task sends from this process (once)."""
    from celery import current_app

    if getattr(current_app.send_task, "bench_recorded", False):
        return
    send = current_app.send_task

    def recorded(name: str, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        if name in ENGINE and args:
            _sent[str(args[0])] = (name, list(args), dict(kwargs or {}))
        return send(name, args=args, kwargs=kwargs, **options)

    recorded.bench_recorded = True  # type: ignore[attr-defined]
    current_app.send_task = recorded  # type: ignore[method-assign]


def run_next(task_id: str) -> str:
    """Run the last wake-up sent for `task_id` here, as its Celery task would (without the broker)."""
    from agents import orchestrator

    install()
    if task_id not in _sent:
        raise RuntimeError(f"no wake-up was sent for task {task_id}")
    name, args, kwargs = _sent.pop(task_id)
    return str(getattr(orchestrator, ENGINE[name])(*args, **kwargs))
