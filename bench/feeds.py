"""The websocket stage: the live feed's scenarios through daphne, in the full run or alone
(`python -m bench.run --only websocket`, which repeats each scenario and takes medians)."""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench import extras, machine, stack
from bench.config import Sizes
from bench.layers import LAYERS, Driver

PACED_STEPS, PACE_MS = 10, 300  # the run with steps as slow as a quick tool: one event's fan-out, no backlog
NAMES = ("one", "many", "paced", "spread")
SUMMED = ("events", "deliveries", "dropped", "lost", "closed")  # counted over repeats, not a median


def scenarios(sizes: Sizes) -> list[tuple[str, int, int, int, int]]:
    """(name, subscribers, tasks, steps per task, pace ms) of each websocket run."""
    spread, tasks, steps = sizes.ws_spread
    return [("one", 1, 1, sizes.ws_steps, 0), ("many", sizes.ws_subscribers, 1, sizes.ws_steps, 0),
            ("paced", sizes.ws_subscribers, 1, PACED_STEPS, PACE_MS), ("spread", spread, tasks, steps, 0)]


def measure(sizes: Sizes, probe_dir: Path, daphne: Any, port: int, owner: tuple[Any, str]) -> dict[str, Any]:
    """Each scenario once; the 1-minute load average before and after each is kept beside its figures."""
    results = {}
    for name, subscribers, tasks, steps, pace in scenarios(sizes):
        load = machine.load_average()
        result = extras.websocket(probe_dir, daphne, port, owner, subscribers, steps, pace, tasks)
        results[name] = dict(result, load=[load, machine.load_average()])
    return results


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Scenario by scenario: the median of each figure over the repeats, counts summed, loads kept."""
    out: dict[str, Any] = {}
    for name in runs[0]:
        values = [run[name] for run in runs]
        merged: dict[str, Any] = {"repeats": len(values), "load": [v["load"] for v in values],
                                  "p50_each": [v["p50"] for v in values]}
        for key, first in values[0].items():
            if key in SUMMED:
                merged[key] = sum(v[key] for v in values)
            elif key != "load" and isinstance(first, int | float):
                merged[key] = statistics.median(v[key] for v in values)
        out[name] = merged
    return out


def alone(sizes: Sizes, probe_dir: Path, log_dir: Path, owner: tuple[Any, str]) -> dict[str, Any]:
    """Two workers and daphne, as in the full run, then every scenario `ws_repeats` times, interleaved."""
    servers: list[Any] = []
    try:
        for name in ("w1", "w2"):
            servers.append(stack.start_worker(name, probe_dir, log_dir))
        driver = Driver(owner[0], sizes.chain)
        for layer in LAYERS:  # warm the workers' imports, connections and caches
            driver.run(layer, 2, 2)
        daphne, port = stack.start_daphne(probe_dir, log_dir)
        servers.append(daphne)
        runs = [measure(sizes, probe_dir, daphne, port, owner) for _ in range(sizes.ws_repeats)]
    except Exception:
        for server in servers:
            print(f"--- {server.name} log ---\n{server.tail(30)}")
        raise
    finally:
        for server in servers:
            server.stop()
    return {"ws": median(runs), "ws_runs": runs}


def rows(ws: dict[str, Any]) -> list[list[str]]:
    """One table row per scenario: the figures, what was lost, daphne's CPU and the load beside them."""
    out = []
    for name in (n for n in NAMES if n in ws):
        r = ws[name]
        loads = r["load"] if isinstance(r["load"][0], list) else [r["load"]]
        out.append([_label(name, r), f"{r['p50']:.1f}", f"{r['p95']:.1f}", f"{r['p99']:.1f}",
                    f"{r['deliveries']:,}", f"{r['dropped']} / {r['lost']} / {r['closed']}",
                    f"{r['daphne_live_cpu_ms_per_delivery']:.3f} ({r['daphne_cpu_ms_per_delivery']:.3f})",
                    ", ".join(f"{a:.2f}→{b:.2f}" for a, b in loads)])
    return out


def _label(name: str, r: dict[str, Any]) -> str:
    subs, tasks = int(r["subscribers"]), int(r.get("tasks", 1))
    where = f"{subs:,} subscriber{'s' * (subs != 1)}" + (f" over {tasks:,} tasks" if tasks > 1 else " on one task")
    return where + (f", steps {r['pace_ms']:.0f} ms apart" if r["pace_ms"] else ", steps back to back")


HEADER = ["scenario", "p50 (ms)", "p95 (ms)", "p99 (ms)", "deliveries", "dropped / lost / closed",
          "daphne CPU ms / delivery: live (whole run)", "load (1 min) before→after"]
