"""Does a step cost more as its task grows? Step 2 and step 100 of 100-step noop tasks, in this process.

One method for every figure it is compared with (here and in bench/backlog.py): each wake-up the
engine sends run in the bench process as its Celery task would (bench/wakeups.py: `orchestrator.step`
with the message's arguments), timed with perf_counter, no worker running; the median over several
tasks, each run from its plan to its end so both steps find it as a worker would. The statements of
the same two steps are counted on one more task (bench/queries.py), apart from the timed ones, so
the counting wrapper does not weigh on the times.
"""
from __future__ import annotations

import statistics
import time
from typing import Any

from bench import wakeups
from bench.layers import noop_plan
from bench.queries import counting
from bench.stats import ratio

STEPS = 100  # agents/plan.py MAX_STEPS: the longest plan a task can have
EARLY, LATE = 2, STEPS  # the plan steps compared
OK = ("step-completed",)


def prepared(user: Any, steps: int = STEPS, title: str = "growth") -> str:
    """A started task whose plan is made and whose step 1 ran: the next call runs step 2."""
    from tasks_app import services

    wakeups.install()
    task = services.task_create(user=user, title=title, plan=noop_plan(steps))
    task = services.task_execute(task=task)
    if task.status != "executing":  # a person's own plan is planned in the request
        raise RuntimeError(f"{title}: the task did not start (it is {task.status}); are slots free?")
    _checked(wakeups.run_next(task.id), 1)
    return str(task.id)


def timed_step(task_id: str, number: int) -> float:
    """Seconds the task's next wake-up takes (it runs plan step `number`)."""
    started = time.perf_counter()
    outcome = wakeups.run_next(task_id)
    elapsed = time.perf_counter() - started
    _checked(outcome, number)
    return elapsed


def _checked(outcome: str, number: int) -> None:
    if outcome not in OK:
        raise RuntimeError(f"step {number} did not run as a plain step: {outcome}")


def run_to(task_id: str, start: int, end: int) -> None:
    """Run plan steps start..end-1 untimed."""
    for number in range(start, end):
        _checked(wakeups.run_next(task_id), number)


def finish(task_id: str) -> None:
    outcome = wakeups.run_next(task_id)  # the wake-up after the last step completes the task
    if outcome != "completed":
        raise RuntimeError(f"task {task_id} did not complete after step {STEPS}: {outcome}")


def _counted(task_id: str) -> dict[str, dict[str, Any]]:
    """Statements of step 2 and step 100 of one task (not timed)."""
    costs = {}
    for number, start in ((EARLY, EARLY), (LATE, EARLY + 1)):
        run_to(task_id, start, number)
        with counting() as cost:
            _checked(wakeups.run_next(task_id), number)
        costs[str(number)] = cost.as_dict()
    finish(task_id)
    return costs


def measure(user: Any, tasks: int) -> dict[str, Any]:
    """Median ms of step 2 and of step 100 over `tasks` tasks; their statements; the ratio."""
    early: list[float] = []
    late: list[float] = []
    for _ in range(tasks):
        task_id = prepared(user)
        early.append(timed_step(task_id, EARLY))
        run_to(task_id, EARLY + 1, LATE)
        late.append(timed_step(task_id, LATE))
        finish(task_id)
    counts = _counted(prepared(user, title="growth counted"))
    e, lt = statistics.median(early) * 1000, statistics.median(late) * 1000
    return {"steps": STEPS, "tasks": tasks, "early": EARLY, "late": LATE, "early_ms": e, "late_ms": lt,
            "ratio": ratio(lt, e), "early_runs_ms": [x * 1000 for x in early],
            "late_runs_ms": [x * 1000 for x in late], "counts": counts}
