"""One step of each layer run in this process (no worker running): its database statements,
writes and commits, and a cProfile of engine steps. Engine steps run the wake-up the engine sent, as
its Celery task would (bench/wakeups.py). Messages it sends are flushed afterwards."""
from __future__ import annotations

import cProfile
import io
import pstats
import sysconfig
import time
from typing import Any

from bench import celery_tasks, config, wakeups
from bench.layers import noop_plan
from bench.queries import counting


def db_cost(user: Any) -> dict[str, dict[str, Any]]:
    """Statements, writes and commits of one mid-chain hop (floor layers) and one mid-task engine step."""
    from tasks_app import services
    from tasks_app.models import Task

    wakeups.install()
    costs: dict[str, dict[str, Any]] = {"floor": dict.fromkeys(("statements", "writes", "rows", "commits",
                                                                 "write_commits"), 0)}
    for mode in ("db", "events"):
        task = Task.objects.create(user=user, title=f"hot {mode}", status="completed")
        celery_tasks.hop(task.id, 1, 4, mode, task.id, user.id)  # warm
        with counting() as cost:
            celery_tasks.hop(task.id, 2, 4, mode, task.id, user.id)
        costs[mode] = cost.as_dict()
    task = services.task_create(user=user, title="hot engine", plan=noop_plan(4))
    services.task_execute(task=task)  # a person's own plan: planned in the request
    _stepped(wakeups.run_next(task.id))  # step 1, warm
    with counting() as cost:
        outcome = wakeups.run_next(task.id)  # step 2
    _stepped(outcome)
    costs["engine"] = dict(cost.as_dict(), sql=cost.sql)
    return costs


def profile_engine(user: Any, steps: int = 40, top: int = 18) -> dict[str, Any]:
    """cProfile over `steps` engine steps in this process: wall time per step and the top functions."""
    from tasks_app import services

    wakeups.install()
    task = services.task_create(user=user, title="profile engine", plan=noop_plan(steps))
    services.task_execute(task=task)  # planned in the request
    _stepped(wakeups.run_next(task.id))  # warm
    outcomes = []
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(steps - 1):
        outcomes.append(wakeups.run_next(task.id))
    profiler.disable()
    for outcome in outcomes:
        _stepped(outcome)
    per_step = (time.perf_counter() - started) / (steps - 1)
    stats = pstats.Stats(profiler)
    text = io.StringIO()
    pattern = r"agents|tasks_app|tools/|channels|asgiref|redis|kombu|celery|django/db|psycopg"
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(pattern, top)
    return {"per_step_ms": per_step * 1000, "table": _trim(text.getvalue()),
            "phases": phases(stats, steps - 1)}


def _stepped(outcome: str) -> None:
    """A measured call must have run a plan step (not found the lease taken, say)."""
    if outcome != "step-completed":
        raise RuntimeError(f"an in-process engine step did not run a plan step: {outcome}")


# (file suffix, function, what it is): the pieces of a step, by cumulative time (they nest)
PHASES = [
    ("agents/orchestrator.py", "step", "the whole step (orchestrator.step)"),
    ("tasks_app/leases.py", "take", "take the lease (UPDATE)"),
    ("agents/step_reads.py", "leased", "the task, its owner and what the step reads (one SELECT)"),
    ("agents/executor.py", "_recorded_steps", "read the steps so far (SELECT)"),
    ("agents/executor.py", "_reason", "next plan step, resolve params"),
    ("agents/approvals.py", "gate", "approval policy check"),
    ("agents/circuit.py", "check", "circuit breaker check (SELECT)"),
    ("agents/toolcontext.py", "build_tool_context", "build the tool context"),
    ("tasks_app/leases.py", "keep_alive", "lease keep-alive thread (start + join)"),
    ("tools/base.py", "run", "the noop tool itself"),
    ("agents/circuit.py", "record_success", "circuit breaker success (UPDATE)"),
    ("agents/executor.py", "_save_row", "save the step row (update_or_create)"),
    ("agents/step_record.py", "save_row", "save the step row (INSERT)"),
    ("tasks_app/leases.py", "release", "release the lease + task fields + trace (UPDATE)"),
    ("tasks_app/leases.py", "hand_over", "hand the lease to the next wake-up + task fields (UPDATE)"),
    ("tasks_app/events.py", "emit", "number and store the event"),
    ("tasks_app/events.py", "store", "store the event (INSERT)"),
    ("django/db/transaction.py", "__exit__", "atomic blocks exit (COMMIT, then on-commit publish)"),
    ("tasks_app/events.py", "publish", "publish to 2 channel groups (handed to the publishing loop, not waited for)"),
    ("agents/dispatch.py", "_send", "enqueue the next step (Celery apply_async)"),
    ("psycopg/connection.py", "wait", "waiting on PostgreSQL (all statements)"),
]


def phases(stats: pstats.Stats, steps: int) -> list[dict[str, Any]]:
    """Cumulative ms per step and calls per step of the PHASES functions found in the profile."""
    found = []
    for suffix, name, label in PHASES:
        rows = [(nc, ct) for (path, _, func), (_, nc, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
                if func == name and path.endswith(suffix)]
        if rows:
            found.append({"what": label, "function": f"{suffix}:{name}",
                          "calls": sum(r[0] for r in rows) / steps, "ms": 1000 * sum(r[1] for r in rows) / steps})
    return found


def _trim(report: str) -> str:
    """Keep the column header and the rows of a pstats report, with shortened paths."""
    lines = report.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
    packages, root = sysconfig.get_paths()["purelib"] + "/", f"{config.ROOT}/"
    return "\n".join(line.replace(packages, "").replace(root, "") for line in lines[start:] if line.strip())
