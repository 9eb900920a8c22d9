"""The measurements beside the layers: time to first step, websocket fan-out, worker memory, what-if."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import redis

from bench import api, config, cpu, stack, ws
from bench.layers import noop_plan
from bench.probe import DONE_LIST, wait_done
from bench.stats import summary_ms
from bench.timings import Probes


def first_step(probe_dir: Path, token: str, samples: int) -> dict[str, Any]:
    measured = api.first_step_latency(probe_dir, token, samples)
    post = summary_ms(measured["post"])
    return dict(summary_ms(measured["first_step"]), samples=samples, post_p50=post["p50"])


def websocket(probe_dir: Path, daphne: Any, port: int, owner: tuple[Any, str], subscribers: int,
              steps: int, pace_ms: int = 0) -> dict[str, Any]:
    """`subscribers` clients on one task's feed while it runs `steps` steps (each `pace_ms` long) on the workers."""
    from django.db import connection

    from tasks_app import services
    from tasks_app.models import Task

    user, token = owner
    task = services.task_create(user=user, title="websocket", plan=noop_plan(steps, pace_ms))
    broker = redis.Redis.from_url(config.REDIS_URL)

    def run_task() -> int:
        try:
            broker.delete(DONE_LIST)
            services.task_execute(task=Task.objects.get(id=task.id))
            if wait_done(broker, 300) is None:
                raise RuntimeError(f"websocket task {task.id} did not finish")
            return int(Task.objects.values_list("event_seq", flat=True).get(id=task.id))
        finally:
            connection.close()

    daphne_cpu, client_cpu = cpu.process_seconds(daphne.process.pid), time.process_time()
    feeds = ws.measure(port, task.id, token, subscribers, run_task)
    daphne_cpu, client_cpu = cpu.process_seconds(daphne.process.pid) - daphne_cpu, time.process_time() - client_cpu
    lat = ws.latencies(feeds, task.id, Probes(probe_dir).commit)
    events = max((max(f.live, default=0) for f in feeds), default=0) - feeds[0].base
    deliveries = sum(len(f.live) for f in feeds)
    return dict(summary_ms(lat), subscribers=subscribers, events=events, pace_ms=pace_ms, deliveries=deliveries,
                dropped=sum(f.dropped for f in feeds), lost=sum(f.lost for f in feeds),
                closed=sum(f.closed for f in feeds),
                daphne_cpu_ms_per_delivery=1000 * daphne_cpu / max(1, deliveries),
                client_cpu_ms_per_delivery=1000 * client_cpu / max(1, deliveries))


def run_steps_by(probe_dir: Path, pid: int) -> int:
    """How many run_step calls the process `pid` has started so far (its own probe file)."""
    path = probe_dir / f"{pid}.tsv"
    return sum(1 for line in path.read_text().splitlines() if "\tstart:run_step\t" in line) if path.exists() else 0


def memory_reading(worker: Any, probe_dir: Path) -> dict[str, int]:
    pool = stack.pool_pid(worker)
    return {"pid": pool, "rss_kib": stack.rss_kib(pool), "main_kib": stack.rss_kib(worker.process.pid),
            "steps": run_steps_by(probe_dir, pool)}


def memory(before: dict[str, int], after: dict[str, int]) -> dict[str, Any]:
    if before["pid"] != after["pid"]:
        raise RuntimeError(f"worker 1's pool process changed ({before['pid']} -> {after['pid']})")
    return {"steps": after["steps"] - before["steps"], "before_kib": before["rss_kib"],
            "after_kib": after["rss_kib"], "growth_pct": 100 * (after["rss_kib"] - before["rss_kib"]) /
            before["rss_kib"], "main_before_kib": before["main_kib"], "main_after_kib": after["main_kib"]}
