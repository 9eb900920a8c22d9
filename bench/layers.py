"""The four layers, driven the same way: chains (or tasks) of N steps kicked off and awaited.

floor, db, events: bench.hop chains of N+1 hops (N start-to-start gaps); engine: real
tasks whose explicit plan is N noop.pass steps (N run_step calls plus the one that
completes the task: N gaps). Completion is signalled on a Redis list, so this process
does not poll the database while the workers run.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis

from bench import celery_tasks, config
from bench.probe import DONE_LIST, wait_done
from bench.timings import Probes, last_end, step_intervals

LAYERS = ("floor", "db", "events", "engine")
LABELS = {"floor": "1. floor: raw Celery", "db": "2. + database writes", "events": "3. + channel events",
          "engine": "4. engine (run_step)"}


@dataclass
class Run:
    layer: str
    keys: list[str]
    started: float
    steps: int


def noop_plan(steps: int, sleep_ms: int = 0) -> dict[str, Any]:
    params = {"sleep_ms": sleep_ms} if sleep_ms else {}
    return {"steps": [{"action": "noop.pass", "params": {"n": i, **params}} for i in range(1, steps + 1)]}


class Driver:
    """Creates chains/tasks for a layer, runs them with `parallel` in flight, and waits for them."""

    def __init__(self, user: Any, chain: int):
        self.user, self.chain = user, chain
        self.redis = redis.Redis.from_url(config.REDIS_URL)
        self.tasks: dict[str, Any] = {}

    def prepare(self, layer: str, count: int) -> list[str]:
        from tasks_app import services
        from tasks_app.models import Task

        if layer == "floor":
            return [uuid.uuid4().hex for _ in range(count)]
        if layer == "engine":
            made = [services.task_create(user=self.user, title=f"bench {i}", plan=noop_plan(self.chain))
                    for i in range(count)]
        else:  # ordinary task rows (finished, so admission ignores them): the writes hit the same tables
            made = Task.objects.bulk_create(
                [Task(user=self.user, title=f"bench {layer} {i}", status="completed", total_steps=self.chain + 1)
                 for i in range(count)])
        self.tasks.update({task.id: task for task in made})
        return [task.id for task in made]

    def kick(self, layer: str, key: str) -> None:
        if layer == "engine":
            from tasks_app import services

            services.task_execute(task=self.tasks[key])
        else:
            celery_tasks.send(key, 1, self.chain + 1, layer, key if layer != "floor" else "", self.user.id)

    def run(self, layer: str, count: int, parallel: int, timeout: float = 300) -> Run:
        keys = self.prepare(layer, count)
        self.redis.delete(DONE_LIST)
        started = time.time()
        pending, in_flight = list(keys), 0
        for _ in range(min(parallel, len(pending))):
            self.kick(layer, pending.pop(0))
            in_flight += 1
        while in_flight:
            if wait_done(self.redis, timeout) is None:
                raise RuntimeError(f"{layer}: {in_flight} chain(s) did not finish within {timeout}s")
            in_flight -= 1
            if pending:
                self.kick(layer, pending.pop(0))
                in_flight += 1
        return Run(layer, keys, started, count * self.chain)


def what(layer: str) -> str:
    return "run_step" if layer == "engine" else "hop"


def gaps(probes: Probes, run: Run) -> list[float]:
    return step_intervals(probes, what(run.layer), run.keys)


def steps_per_second(probes: Probes, run: Run) -> float:
    return run.steps / (last_end(probes, what(run.layer), run.keys) - run.started)
