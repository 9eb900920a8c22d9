"""Through the API (DRF's client, in this process, on the real database and broker):
time from POST /api/agent/execute/{id} to the first step starting, and the load run."""
from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

import redis

from bench import config
from bench.layers import noop_plan
from bench.probe import DONE_LIST, wait_done
from bench.queries import counting
from bench.timings import Probes


def client_for(token: str) -> Any:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def create_task(client: Any, steps: int, title: str = "bench") -> str:
    response = client.post("/api/workspace/tasks", {"title": title, "plan": noop_plan(steps)}, format="json")
    if response.status_code != 201:
        raise RuntimeError(f"creating a task answered {response.status_code}: {response.content[:300]!r}")
    return str(response.json()["id"])


def execute(client: Any, task_id: str) -> int:
    return int(client.post(f"/api/agent/execute/{task_id}", {"async": True}, format="json").status_code)


def first_step_latency(probe_dir: Path, token: str, samples: int) -> dict[str, Any]:
    """One 1-step task at a time: seconds from the POST to its first run_step starting, the POST itself,
    and the seconds its statements spent in the database (sent to answered, as Django's execute sees them)."""
    client, broker = client_for(token), redis.Redis.from_url(config.REDIS_URL)
    ids = [create_task(client, 1, "first step") for _ in range(samples)]
    posted, answered, in_db, statements = {}, [], [], []
    each: dict[str, list[float]] = {}  # the POST's statements, in order: seconds per sample
    for task_id in ids:
        broker.delete(DONE_LIST)
        with counting() as cost:
            posted[task_id] = time.time()
            status = execute(client, task_id)
            answered.append(time.time() - posted[task_id])
        in_db.append(cost.seconds)
        statements.append(float(cost.statements))
        for position, (sql, took) in enumerate(cost.timed, start=1):
            each.setdefault(f"{position}: {sql}", []).append(took)
        if status != 202 or wait_done(broker, 60) is None:
            raise RuntimeError(f"task {task_id} did not run (execute answered {status})")
    probes = Probes(probe_dir)
    return {"first_step": [probes.starts("run_step", i)[0] - posted[i] for i in ids], "post": answered,
            "post_db": in_db, "post_statements": statements,
            "post_each": {sql: 1000 * statistics.median(times) for sql, times in each.items()}}



class QueueSampler(threading.Thread):
    """Every `period` s: Redis queue depth (messages waiting) and the load tasks by status."""

    def __init__(self, title: str, period: float = 0.5):
        super().__init__(daemon=True)
        self.title, self.period, self.stop = title, period, threading.Event()
        self.samples: list[dict[str, Any]] = []
        self.broker = redis.Redis.from_url(config.REDIS_URL)

    def run(self) -> None:
        from django.db import connection
        from django.db.models import Count

        from tasks_app.models import Task

        try:
            while not self.stop.wait(self.period):
                depth = sum(int(self.broker.llen(key)) for key in self.broker.scan_iter(match="agent.*"))
                rows = Task.objects.filter(title=self.title).values("status").annotate(n=Count("id"))
                self.samples.append({"t": time.time(), "queue": depth, **{r["status"]: r["n"] for r in rows}})
        finally:
            connection.close()


def load_run(users: list[tuple[Any, str]], tasks: int, steps: int, timeout: float = 900) -> dict[str, Any]:
    """`tasks` tasks of `steps` noop steps over `users`: all created, then all executed at once."""
    from django.db.models import Count

    from tasks_app.models import Task, TaskExecution

    clients, title = [client_for(token) for _, token in users], "load"
    ids = [create_task(clients[i % len(clients)], steps, title) for i in range(tasks)]
    broker = redis.Redis.from_url(config.REDIS_URL)
    broker.delete(DONE_LIST)
    sampler = QueueSampler(title)
    sampler.start()
    started = time.time()
    answers = [execute(clients[i % len(clients)], task_id) for i, task_id in enumerate(ids)]
    submitted = time.time()
    done = 0
    while done < tasks and wait_done(broker, max(1.0, started + timeout - time.time())):
        done += 1
    finished = time.time()
    sampler.stop.set()
    sampler.join()
    statuses = dict(Task.objects.filter(id__in=ids).values_list("status").annotate(n=Count("id")))
    step_rows = TaskExecution.objects.filter(task_id__in=ids, status="completed").count()
    return {"tasks": tasks, "steps": steps, "users": len(users), "accepted": answers.count(202),
            "submit_s": submitted - started, "total_s": finished - started, "statuses": statuses,
            "completed_steps": step_rows, "steps_per_s": step_rows / (finished - started),
            "tasks_per_s": statuses.get("completed", 0) / (finished - started),
            "all_finished": statuses.get("completed", 0) == tasks and step_rows == tasks * steps,
            "samples": [dict(s, t=s["t"] - started) for s in sampler.samples]}
