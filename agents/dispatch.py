"""Wake-up calls: enqueue 'look at task X now' on the queue of its priority.

With a broker (REDIS_URL set) that is a Celery message, sent after the transaction
commits. On the embedded default the same engine functions run on an in-process
runner thread, which also runs the sweeper every WORKER_POLL_INTERVAL ms. A message
carries only the task id (and the token of a lease handed over to it): the database holds the
state, so a lost one costs a delay.
Nothing here imports what it wakes: Celery tasks are sent by name, and the runner is given
its handlers at startup (agents/inline.py, registered by agents/apps.py).
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

from celery import current_app
from django.conf import settings
from django.db import close_old_connections, connection, transaction

from xantuus import logs

log = logging.getLogger(__name__)

# The Celery task each kind of wake-up sends (agents/tasks.py defines them under these names).
CELERY_TASKS = {"plan": "agents.tasks.plan_task", "step": "agents.tasks.run_step",
                "branch": "agents.tasks.run_branch"}


def queue_for(priority: str) -> str:
    return f"agent.{priority if priority in settings.PRIORITIES else 'medium'}"


def enqueue(kind: str, task_id: str, *step: int, priority: str = "medium", countdown: float = 0,
            lease: str | None = None) -> None:
    """kind is 'plan', 'step', or 'branch' (with the run and step number of a parallel plan's step);
    sent once the current transaction (if any) commits. `lease`: the token of the lease the step
    that sends it handed over (tasks_app/leases.py hand_over), which the woken step then holds."""
    transaction.on_commit(lambda: _send(kind, task_id, step, priority, countdown, lease))


def _send(kind: str, task_id: str, step: tuple[int, ...], priority: str, countdown: float,
          lease: str | None) -> None:
    kwargs = {"lease": lease} if lease else {}
    if settings.EMBEDDED:
        INLINE.submit(kind, task_id, *step, priority=priority, countdown=countdown, **kwargs)
        return
    try:
        current_app.send_task(CELERY_TASKS[kind], args=[task_id, *step], kwargs=kwargs, queue=queue_for(priority),
                              countdown=countdown or None,
                              retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5})
    except Exception:  # the broker is down: the state is committed, the sweeper re-enqueues the task
        log.warning("wake-up (%s) of task %s not sent; the sweeper will re-enqueue it", kind, task_id,
                    exc_info=True)


class InlineRunner:
    """One background thread per process that runs wake-ups in priority, then time, order."""

    RANK = {"urgent": 0, "high": 1, "medium": 2, "low": 3}

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, str, str, tuple[int, ...], dict[str, str]]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._thread: threading.Thread | None = None
        self._next_sweep = 0.0
        self._handlers: dict[str, Callable[..., object]] = {}

    def handle(self, kind: str, handler: Callable[..., object]) -> None:
        """Run `handler(task_id, *step)` for wake-ups of `kind` ('plan', 'step', 'branch', and 'sweep', the beat)."""
        self._handlers[kind] = handler

    def submit(self, kind: str, task_id: str, *step: int, priority: str = "medium", countdown: float = 0,
               **kwargs: str) -> None:
        with self._cond:
            due = time.monotonic() + countdown
            heapq.heappush(self._heap, (due, self.RANK.get(priority, 2), next(self._counter), kind, task_id, step,
                                        kwargs))
            self.start()
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 60) -> bool:
        """Block until nothing is queued or running (tests, the run_task command)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    @property
    def running(self) -> bool:
        """Whether this process's runner thread is alive (/readyz on the embedded default)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the runner thread now (a server in the embedded mode), so the sweeper runs from the start."""
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="xantuus-inline-runner", daemon=True)
                self._thread.start()

    def _next(self) -> tuple[str, str, tuple[int, ...], dict[str, str]]:
        with self._cond:
            while True:
                now = time.monotonic()
                if settings.EMBEDDED and now >= self._next_sweep:  # the embedded mode's beat
                    self._next_sweep = now + max(settings.WORKER_POLL_INTERVAL, 200) / 1000
                    self._busy += 1
                    return "sweep", "", (), {}
                ready = [entry for entry in self._heap if entry[0] <= now]
                if ready:
                    entry = min(ready, key=lambda e: (e[1], e[0], e[2]))
                    self._heap.remove(entry)
                    heapq.heapify(self._heap)
                    self._busy += 1
                    return entry[3], entry[4], entry[5], entry[6]
                due = min((e[0] for e in self._heap), default=now + 1)
                if settings.EMBEDDED:
                    due = min(due, self._next_sweep)
                self._cond.wait(max(0.01, due - now))

    def _loop(self) -> None:
        while True:
            kind, task_id, step, kwargs = self._next()
            try:
                close_old_connections()
                logs.bind(taskId=task_id or None)
                handler = self._handlers.get(kind)
                if handler is None:  # Django's setup registers them (agents/apps.py); a bare import does not
                    raise LookupError(f"no handler for {kind!r} wake-ups: agents.inline.register() was not called")
                handler(task_id, *step, **kwargs)
            except Exception:  # the engine records its own failures; this is a last resort
                log.exception("inline %s of task %s crashed", kind, task_id)
            finally:
                logs.clear()
                with self._cond:
                    if not self._heap:
                        connection.close()  # idle: hold no database connection
                    self._busy -= 1
                    self._cond.notify_all()


INLINE = InlineRunner()
