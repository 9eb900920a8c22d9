"""The measurements beside the layers: time to first step, websocket fan-out, worker memory, what-if."""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import redis

from bench import api, config, cpu, db, stack, ws
from bench.layers import noop_plan
from bench.probe import DONE_LIST, wait_done
from bench.stats import summary_ms
from bench.timings import Probes


def first_step(probe_dir: Path, token: str, samples: int) -> dict[str, Any]:
    """After a CHECKPOINT (db.checkpoint says why); how many buffers the checkpointer wrote meanwhile."""
    db.checkpoint()
    written = db.checkpoint_buffers()
    measured = api.first_step_latency(probe_dir, token, samples)
    after = db.checkpoint_buffers()
    post, in_db = summary_ms(measured["post"]), summary_ms(measured["post_db"])
    return dict(summary_ms(measured["first_step"]), samples=samples, post_p50=post["p50"], post_db_p50=in_db["p50"],
                post_statements=statistics.median(measured["post_statements"]), post_each_ms=measured["post_each"],
                checkpoint_buffers=None if written is None or after is None else after - written)


def websocket(probe_dir: Path, daphne: Any, port: int, owner: tuple[Any, str], subscribers: int,
              steps: int, pace_ms: int = 0, tasks: int = 1) -> dict[str, Any]:
    """`subscribers` clients spread evenly over the feeds of `tasks` tasks while they run `steps` steps
    each (each `pace_ms` long) on the workers, all executed at once (admission queues what is over its limits).
    `daphne` is the server (or a list of servers) whose CPU is counted: over the whole run (connects and
    closes included), and while the tasks ran (the live deliveries)."""
    from django.db import connection

    from tasks_app import services
    from tasks_app.models import Task

    user, token = owner
    made = [services.task_create(user=user, title="websocket", plan=noop_plan(steps, pace_ms)) for _ in range(tasks)]
    ids = [task.id for task in made]
    broker = redis.Redis.from_url(config.REDIS_URL)
    pids = [server.process.pid for server in (daphne if isinstance(daphne, list) else [daphne])]
    live_cpu: list[float] = []  # daphne's CPU seconds when the tasks start, and when the clients stop listening

    def run_tasks() -> dict[str, int]:
        try:
            broker.delete(DONE_LIST)
            live_cpu.append(sum(map(cpu.process_seconds, pids)))
            for task in made:
                services.task_execute(task=Task.objects.get(id=task.id))
            for _ in made:
                if wait_done(broker, 300) is None:
                    raise RuntimeError(f"websocket tasks did not finish: {ids}")
            return dict(Task.objects.filter(id__in=ids).values_list("id", "event_seq"))
        finally:
            connection.close()

    daphne_cpu, client_cpu = sum(map(cpu.process_seconds, pids)), time.process_time()
    feeds = ws.measure(port, ids, token, max(1, subscribers // tasks), run_tasks,
                       lambda: live_cpu.append(sum(map(cpu.process_seconds, pids))))
    daphne_cpu, client_cpu = sum(map(cpu.process_seconds, pids)) - daphne_cpu, time.process_time() - client_cpu
    lat = ws.latencies(feeds, Probes(probe_dir).commit)
    first = {f.task_id: f for f in reversed(feeds)}  # each task's first client: base is its lastSeq at subscribe
    events = sum(max((max(f.live, default=0) for f in feeds if f.task_id == t), default=0) - first[t].base
                 for t in ids)
    deliveries = sum(len(f.live) for f in feeds)
    return dict(summary_ms(lat), subscribers=len(feeds), tasks=tasks, events=events, pace_ms=pace_ms,
                deliveries=deliveries, dropped=sum(f.dropped for f in feeds), lost=sum(f.lost for f in feeds),
                closed=sum(f.closed for f in feeds),
                daphne_cpu_ms_per_delivery=1000 * daphne_cpu / max(1, deliveries),
                daphne_live_cpu_ms_per_delivery=1000 * (live_cpu[1] - live_cpu[0]) / max(1, deliveries),
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
