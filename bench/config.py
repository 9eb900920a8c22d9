"""Where the bench runs (its own database and Redis db) and how big each run is.

Never point these at the tests' databases (xantuus*, test_*) or Redis dbs 8/9.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = os.environ.get("BENCH_DB_NAME", "xantuus_bench")
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
QUEUE = "agent.medium"  # every layer's messages go where the engine's medium-priority steps go
NOOP_TOOL_MODULE = "bench.noop_tool"


@dataclass(frozen=True)
class Sizes:
    """How many of each measurement a run takes; medians are over `repeats`."""

    name: str
    repeats: int  # latency repeats per layer (interleaved across layers)
    chain: int  # hops per chain / steps per engine task (<= 100: MAX_STEPS, AGENT_MAX_TOOL_CALLS)
    chains: int  # serial chains per latency repeat
    parallel: int  # chains (tasks) in flight in the throughput runs
    throughput_chains: int  # chains per throughput run
    tp_repeats: int  # throughput runs per layer and worker count (median)
    rss_steps: int  # run_step calls by worker 1 between its two RSS readings (at least)
    first_step: int  # POST /execute -> first step samples
    ws_subscribers: int  # on one task's feed
    ws_steps: int
    ws_spread: tuple[int, int, int]  # (subscribers, tasks, steps per task): many feeds at once
    ws_repeats: int  # `python -m bench.run --only websocket`: each scenario this many times (median)
    load_tasks: int
    load_steps: int
    load_users: int
    growth_tasks: int  # 100-step tasks whose step 2 and step 100 are timed in this process (median)
    backlog: tuple[int, int, int]  # (tasks queued, step rows, tasks timed per phase: at most 9, one user's slots)


SIZES = {
    "smoke": Sizes("smoke", repeats=1, chain=5, chains=2, parallel=2, throughput_chains=4, tp_repeats=1,
                   rss_steps=60,
                   first_step=3, ws_subscribers=5, ws_steps=5, ws_spread=(6, 3, 2), ws_repeats=1,
                   load_tasks=6, load_steps=2, load_users=2,
                   growth_tasks=1, backlog=(300, 3000, 2)),
    "quick": Sizes("quick", repeats=3, chain=20, chains=5, parallel=4, throughput_chains=12, tp_repeats=2,
                   rss_steps=1000,
                   first_step=10, ws_subscribers=200, ws_steps=20, ws_spread=(1000, 100, 5),
                   ws_repeats=2, load_tasks=100, load_steps=5, load_users=10,
                   growth_tasks=3, backlog=(10_000, 100_000, 5)),
    "full": Sizes("full", repeats=5, chain=20, chains=10, parallel=6, throughput_chains=20, tp_repeats=3,
                  rss_steps=10_000,
                  first_step=30, ws_subscribers=200, ws_steps=50, ws_spread=(1000, 100, 10),
                  ws_repeats=3, load_tasks=1000, load_steps=5, load_users=100,
                  growth_tasks=15, backlog=(10_000, 100_000, 9)),
}


def environment() -> dict[str, str]:
    """The settings environment shared by this process, the workers and daphne."""
    return {
        "DJANGO_SETTINGS_MODULE": "xantuus.settings",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "XANTUUS_VAR_DIR": str(ROOT / "var" / "bench"),
        "AGENT_LLM_PROVIDER": "offline",
        "ANTHROPIC_API_KEY": "",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        # a 100-step plan makes 100 tool calls; the default limit (100) fails the call that completes it
        "AGENT_MAX_TOOL_CALLS": "200",
    }


def apply_environment() -> None:
    """Set the bench environment in this process; call before Django is set up."""
    os.environ.update(environment())
