"""Step overhead (serial chains) and steps per second (chains in flight), per layer, interleaved."""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench import cpu, db, stack
from bench.config import Sizes
from bench.layers import LAYERS, Driver, gaps, steps_per_second
from bench.stats import median_of, summary_ms
from bench.timings import Probes


def latency(driver: Driver, sizes: Sizes, probe_dir: Path, layers: tuple[str, ...] = LAYERS,
            repeats: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One chain in flight on one worker; repeats interleave the layers so noise hits all alike."""
    runs: dict[str, list[Any]] = {layer: [] for layer in layers}
    for _ in range(repeats or sizes.repeats):
        for layer in layers:
            runs[layer].append(driver.run(layer, sizes.chains, 1))
    probes = Probes(probe_dir)
    per_repeat = {layer: [summary_ms(gaps(probes, run)) for run in runs[layer]] for layer in layers}
    return {layer: median_of(per_repeat[layer]) for layer in layers}, per_repeat


def throughput(driver: Driver, sizes: Sizes, probe_dir: Path, workers: list[Any],
               layers: tuple[str, ...] = LAYERS, repeats: int | None = None) -> dict[str, Any]:
    """Median steps/s over repeats; per step: pg_stat deltas, the workers' CPU, the machine's busy share."""
    rates: dict[str, list[float]] = {layer: [] for layer in layers}
    totals: dict[str, dict[str, float]] = {layer: dict.fromkeys(
        ("steps", "commits", "rows", "sessions", "worker_cpu_s", "busy_ticks", "ticks"), 0.0) for layer in layers}
    pools = [stack.pool_pid(worker) for worker in workers]
    for _ in range(repeats or sizes.tp_repeats):
        for layer in layers:
            before, ticks, cpu_s = db.pg_counters(), cpu.machine_ticks(), _cpu(pools)
            run = driver.run(layer, sizes.throughput_chains, sizes.parallel)
            delta, ticks_after, cpu_after = db.pg_counters() - before, cpu.machine_ticks(), _cpu(pools)
            rates[layer].append(steps_per_second(Probes(probe_dir), run))
            t = totals[layer]
            for key, value in (("steps", run.steps), ("commits", delta.commits), ("rows", delta.rows_written),
                               ("sessions", delta.sessions), ("worker_cpu_s", cpu_after - cpu_s),
                               ("busy_ticks", ticks_after[0] - ticks[0]), ("ticks", ticks_after[1] - ticks[1])):
                t[key] += value
    return {layer: {"sps": statistics.median(rates[layer]), "sps_runs": rates[layer],
                    "commits": t["commits"] / t["steps"], "rows": t["rows"] / t["steps"],
                    "sessions": t["sessions"] / t["steps"], "worker_cpu_ms": 1000 * t["worker_cpu_s"] / t["steps"],
                    "machine_busy": t["busy_ticks"] / t["ticks"] if t["ticks"] else 0.0}
            for layer, t in totals.items()}


def _cpu(pids: list[int]) -> float:
    return sum(cpu.process_seconds(pid) for pid in pids)
