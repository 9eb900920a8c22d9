"""The stages of one run, in order, sharing one set of workers; returns the results dict."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import redis

from bench import api, backlog, config, db, extras, feeds, growth, hotpath, locks, perf, stack
from bench.config import Sizes
from bench.layers import LAYERS, Driver

# Persistent connections: Celery's Django fixup closes the connection before and after every task
# unless CELERY_DB_REUSE_MAX is set (whatever CONN_MAX_AGE says); bench/app.py sets it from BENCH_DB_REUSE_MAX.
WHAT_IF_ENV = {"DATABASE_CONN_MAX_AGE": "600", "BENCH_DB_REUSE_MAX": "100000"}


def run_all(sizes: Sizes, probe_dir: Path, log_dir: Path) -> dict[str, Any]:
    from django.conf import settings

    users = db.make_users("bench", 3 + sizes.load_users)  # layers, first step, websocket, then the load run
    results: dict[str, Any] = {"limits": {"global": settings.AGENT_MAX_CONCURRENT,
                                          "user": settings.AGENT_MAX_CONCURRENT_PER_USER}}
    profile_steps = max(6, min(40, sizes.rss_steps))
    results["hot"] = hotpath.db_cost(users[0][0])
    results["profile"] = dict(hotpath.profile_engine(users[0][0], steps=profile_steps), steps=profile_steps - 1)
    results["growth"] = growth.measure(users[0][0], sizes.growth_tasks)
    redis.Redis.from_url(config.REDIS_URL).flushdb()  # the wake-ups the in-process steps sent
    driver, servers = Driver(users[0][0], sizes.chain), list[Any]()
    try:
        w1 = _started(servers, stack.start_worker("w1", probe_dir, log_dir))
        _warm(driver)
        rss_before = extras.memory_reading(w1, probe_dir)
        results["latency"], results["latency_repeats"] = perf.latency(driver, sizes, probe_dir)
        results["tp1"] = perf.throughput(driver, sizes, probe_dir, [w1])
        w2 = _started(servers, stack.start_worker("w2", probe_dir, log_dir))
        _warm(driver)
        results["tp2"] = perf.throughput(driver, sizes, probe_dir, [w1, w2])
        results["first_step"] = extras.first_step(probe_dir, users[1][1], sizes.first_step)
        daphne, port = stack.start_daphne(probe_dir, log_dir)
        _started(servers, daphne)
        results["ws"] = feeds.measure(sizes, probe_dir, daphne, port, users[2])
        results["load"] = api.load_run(users[3:], sizes.load_tasks, sizes.load_steps)
        _stopped(servers, w2, daphne)
        _top_up(driver, sizes, probe_dir, rss_before)
        results["rss"] = extras.memory(rss_before, extras.memory_reading(w1, probe_dir))
        _stopped(servers, w1)
        results["whatif"] = what_if(driver, sizes, probe_dir, log_dir, servers)
        results["lock_queue"] = locks.measure()  # no worker is running: only its three connections
    except Exception:
        for server in servers:
            print(f"--- {server.name} log ---\n{server.tail(30)}")
        raise
    finally:
        _stopped(servers, *servers)
    results["backlog"] = backlog.measure(*sizes.backlog)  # last: it empties the database around it
    return results


def first_step_alone(sizes: Sizes, probe_dir: Path, log_dir: Path, owner: tuple[Any, str]) -> dict[str, Any]:
    """Two workers, warmed as in the full run, then the time to first step (`--only first_step`)."""
    driver, servers = Driver(owner[0], sizes.chain), list[Any]()
    try:
        for name in ("w1", "w2"):
            _started(servers, stack.start_worker(name, probe_dir, log_dir))
        _warm(driver)
        return extras.first_step(probe_dir, owner[1], sizes.first_step)
    finally:
        _stopped(servers, *servers)


def _started(servers: list[Any], server: Any) -> Any:
    servers.append(server)
    return server


def _stopped(servers: list[Any], *stopping: Any) -> None:
    for server in list(stopping):
        server.stop()
        servers.remove(server)


def _warm(driver: Driver) -> None:
    for layer in LAYERS:
        driver.run(layer, 2, 2)


def _top_up(driver: Driver, sizes: Sizes, probe_dir: Path, before: dict[str, int]) -> None:
    """Worker 1 alone runs engine tasks until it has made rss_steps run_step calls since `before`."""
    done = extras.run_steps_by(probe_dir, before["pid"]) - before["steps"]
    remaining = sizes.rss_steps - done
    if remaining > 0:
        driver.run("engine", math.ceil(remaining / (sizes.chain + 1)), sizes.parallel, timeout=3600)


def what_if(driver: Driver, sizes: Sizes, probe_dir: Path, log_dir: Path, servers: list[Any]) -> dict[str, Any]:
    """The same latency and 1-worker steps/s with persistent database connections (a proposed fix)."""
    worker = _started(servers, stack.start_worker("p1", probe_dir, log_dir, **WHAT_IF_ENV))
    _warm(driver)
    latency, _ = perf.latency(driver, sizes, probe_dir, repeats=max(1, (sizes.repeats + 1) // 2))
    tp1 = perf.throughput(driver, sizes, probe_dir, [worker], layers=("db", "engine"), repeats=1)
    _stopped(servers, worker)
    return {"env": WHAT_IF_ENV, "latency": latency, "tp1": tp1}


def to_json(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=1, default=str, allow_nan=True)
