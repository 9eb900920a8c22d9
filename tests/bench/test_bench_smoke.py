"""The benchmark runs end to end with tiny sizes and writes every row of its report.

It asserts that the numbers exist and are sane (positive, finite), never how fast they are.
It uses its own database (xantuus_bench_smoke) and Redis db (15), not the suite's; BENCH_SMOKE_DB_NAME
and BENCH_SMOKE_REDIS_URL give it others (two people running it at once).
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.layers import LABELS
from bench.report import BEGIN, END

ROOT = Path(__file__).resolve().parents[2]
ROWS = ["step overhead p50 (ms)", "step overhead p95 (ms)", "step overhead p99 (ms)", "steps/s, 1 worker",
        "steps/s, 2 workers", "2 workers ÷ 1 worker", "worker CPU / step (ms, 1 worker)",
        "machine CPU busy, 1-worker run", "machine CPU busy, 2-worker run", "DB statements / step (hot path)",
        "DB write statements / step (hot path)", "DB rows written / step (hot path)",
        "transactions / step (hot path)", "writing commits / step (hot path)",
        "pg transactions / step (whole run)", "pg rows written / step (whole run)",
        "pg connections / step (whole run)"]
POSITIVE = ROWS[:7]
TARGETS = ["engine step overhead p50 ≤ 4× floor", "engine step overhead p50 ≤ 1.5× layer 3",
           "engine step overhead p99", "the project's goal", "≤ 1 writing commit per step",
           "no read-only transactions", "≤ 6 statements per step", "step 100 overhead ≤ 1.2× step 2",
           "worker CPU per step ≤ 2× layer 3", "first step p50 ≤ 20 ms", "websocket commit → receive p50",
           "events lost", "step overhead with a backlog", "every hot query uses an index", "2 workers ≥ 1.6×",
           "worker RSS grows", "load run: all"]
HOT_QUERIES = ["engine step", "lease take", "admission", "sweeper", "status endpoint", "trace endpoint"]


def numbers(cells: list[str]) -> list[float]:
    return [float(m.group().replace(",", "")) for cell in cells if (m := re.search(r"-?[\d,]+(\.\d+)?", cell))]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_smoke_run_writes_every_row(tmp_path):
    output = tmp_path / "benchmarks.md"
    output.write_text(f"# Benchmarks\n\nkept above\n\n{BEGIN}\nold\n{END}\n\nkept below\n")
    env = dict(os.environ, BENCH_DB_NAME=os.environ.get("BENCH_SMOKE_DB_NAME", "xantuus_bench_smoke"),
               BENCH_REDIS_URL=os.environ.get("BENCH_SMOKE_REDIS_URL", "redis://127.0.0.1:6379/15"))
    done = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", "--output", str(output),
                           "--work-dir", str(tmp_path / "work")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=540)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = output.read_text()
    assert "kept above" in text and "kept below" in text and "\nold\n" not in text
    table = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in text.splitlines()
             if line.startswith("| ")}
    for label in LABELS.values():
        assert label in text
    for row in ROWS:
        values = numbers(table[row][:4])
        assert len(values) == 4, (row, table[row])
        assert all(math.isfinite(v) and v >= 0 for v in values), (row, values)
        if row in POSITIVE:
            assert all(v > 0 for v in values), (row, values)
    for target in TARGETS:
        assert any(target in key for key in table), target
    assert "| load run: all 6 tasks finish | 6 completed, 12/12 steps |" in text
    assert "0 lost after refill" in text
    for label in LABELS.values():  # the what-if table: a row per layer, p50 and p99 both ways
        row = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
        assert all(math.isfinite(v) and v > 0 for v in numbers(row.split(" | ")[1:5])), row
    assert re.search(r"POST /api/agent/execute/\{id\} → first run_step starts \(ms\) \| [\d.]+ \|", text)
    for step in ("step 2", "step 100"):  # step growth: ms and statements of both steps
        values = numbers(table[step][:3])
        assert len(values) == 3 and all(math.isfinite(v) and v > 0 for v in values), (step, table[step])
    for phase in ("empty, before", "with the backlog", "empty, after"):
        assert math.isfinite(numbers(table[phase][:1])[0]) and numbers(table[phase][:1])[0] > 0, table[phase]
    for group in HOT_QUERIES:  # every hot query's plan, as PostgreSQL gave it
        assert f"<details><summary>Plans: {group}" in text, group
        assert any(key == group for key in table), group
    assert "Execution Time:" in text and "The profile before the hot-path work (commit " in text
