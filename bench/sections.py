"""The report's sections for issue 14's newer measures: the gap to the goal, step growth, the backlog
and its query plans, and the profile before the hot-path work beside the current one."""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from bench import config

BEFORE = config.ROOT / "bench" / "profile_before.json"  # bench/snapshot.py at the commit before the work


def num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]


def load_before(path: Path = BEFORE) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def gap(r: dict[str, Any]) -> str:
    """What the engine's p50 is made of, over the floor, by layer (each layer adds to the one before)."""
    lat = {layer: r["latency"][layer]["p50"] for layer in ("floor", "db", "events", "engine")}
    return (f"**The gap to the project's goal** (2× the floor = {num(2 * lat['floor'])} ms; the engine's p50 is "
            f"{num(lat['engine'])} ms, {num(lat['engine'] - 2 * lat['floor'])} ms over it). Over the floor's "
            f"{num(lat['floor'])} ms: the writes themselves (layer 2 − floor) {num(lat['db'] - lat['floor'])} ms, "
            f"publishing the events (layer 3 − layer 2) {num(lat['events'] - lat['db'])} ms, the engine's own "
            f"statements and code (engine − layer 3) {num(lat['engine'] - lat['events'])} ms.")


def lock_queue(r: dict[str, Any]) -> list[str]:
    """bench/locks.py's play: what a migration does to the steps if a step's read is in its write transaction."""
    q = r.get("lock_queue")
    if not q:
        return []
    rows = [[label, num(1000 * q[key]["other_read_s"], 1), num(1000 * q[key]["alter_s"], 1)]
            for label, key in (("in the step's write transaction, held across the call", "in_transaction"),
                               ("in autocommit before the call (the engine)", "autocommit"))]
    return [f"### Why a step's read is not in its write transaction (a {q['hold_s']:.1f} s tool call, a migration)",
            "", "A step reads its task, then calls its tool for "
            f"{q['hold_s']:.1f} s; 0.1 s in, a migration's `ALTER TABLE tasks_app_task ADD COLUMN` arrives; 0.2 s "
            "in, another step reads its task (bench/locks.py, three connections on the bench database).", "",
            *table(["the first step's read", "the other step's read (ms)", "the ALTER waited (ms)"], rows)]


def growth(r: dict[str, Any]) -> list[str]:
    g = r["growth"]
    counts = [g["counts"][str(g["early"])], g["counts"][str(g["late"])]]
    rows = [[f"step {g['early']}", num(g["early_ms"]), ", ".join(num(x) for x in g["early_runs_ms"])],
            [f"step {g['late']}", num(g["late_ms"]), ", ".join(num(x) for x in g["late_runs_ms"])]]
    for row, cost in zip(rows, counts, strict=True):
        row += [str(cost[k]) for k in ("statements", "writes", "rows", "commits", "write_commits")]
    out = [f"### Does a step cost more as the task grows? (step {g['late']} ÷ step {g['early']}: "
           f"{num(g['ratio'])}×)", "",
           f"{g['tasks']} tasks of {g['steps']} noop steps, each run from its plan to its end in this process "
           f"(no worker running); each call of `orchestrator.step` timed with perf_counter, median over the tasks. "
           f"The statements were counted on one more task, not timed.", ""]
    return out + table(["step", "ms (median)", "ms per task", "statements", "writes", "rows written",
                        "transactions", "writing commits"], rows)


def backlog(r: dict[str, Any]) -> list[str]:
    b = r["backlog"]
    loads = " → ".join(f"{x:.2f}" for x in b["loads"])
    out = [f"### With a backlog: {b['queued']:,} tasks queued, {b['rows']:,} step rows (step 2 ÷ empty: "
           f"{num(b['ratio'])}×)", "",
           f"Step 2 of 100-step noop tasks timed as in the growth table, {b['samples']} tasks per phase: on the "
           f"empty database, with the backlog, on the empty database again (A-B-A; 1-minute load {loads}). The "
           f"backlog: {b['queued']:,} queued tasks over {b['filled']['users']} users (the measured one among "
           f"them) and {b['rows']:,} step rows of {b['filled']['done_tasks']:,} finished 100-step tasks (with "
           f"the event and the ledger debit each step writes: as many rows again in each table), "
           f"bulk-inserted, `VACUUM ANALYZE`d (as autovacuum would) and checkpointed in "
           f"{b['filled']['seconds']:.1f} s; each phase starts after a `CHECKPOINT`, so that no dirty pages are "
           f"being written while steps are timed; the "
           f"measured tasks were started before it (with that many runs waiting, admission queues a new one). "
           f"This is the last stage: the database is flushed around it.", ""]
    out += table(["phase", "step 2 ms (median)", "ms per task"], [
        ["empty, before", num(_median(b["empty_before_ms"])), ", ".join(num(x) for x in b["empty_before_ms"])],
        ["with the backlog", num(b["backlog_ms"]), ", ".join(num(x) for x in b["backlog_runs_ms"])],
        ["empty, after", num(_median(b["empty_after_ms"])), ", ".join(num(x) for x in b["empty_after_ms"])]])
    out += ["", "**The hot queries with the backlog in place.** Each statement as the code ran it (captured with "
            "Django's execute_wrapper, with its parameters), then `EXPLAIN (ANALYZE, BUFFERS)` in a transaction "
            "that is rolled back (an INSERT: plain `EXPLAIN`). Admission: a task executed while the runs wait, "
            "with AGENT_MAX_CONCURRENT_PER_USER=0 in this process so that its queue scan starts none of them. "
            "A sequential scan of a table over 1,000 rows is flagged.", ""]
    rows = []
    for group, queries in b["queries"].items():
        for q in queries:
            flag = "**Seq Scan on " + ", ".join(q["seq_scans_big"]) + "**" if q["seq_scans_big"] else ""
            rows.append([group.split(" (")[0], f"`{q['sql'][:70]}…`", "; ".join(q["scans"]) or "(no scan)",
                         num(q["ms"], 3), flag])
    out += table(["query of", "statement", "scans", "ms (ANALYZE)", "big table scanned"], rows)
    for group, queries in b["queries"].items():
        out += ["", f"<details><summary>Plans: {group}</summary>", ""]
        for q in queries:
            out += ["```", q["sql"][:600], "", q["plan"], "```"]
        out += ["</details>"]
    return out


def profile_before(r: dict[str, Any]) -> list[str]:
    before, now = r.get("profile_before"), r["profile"]
    if not before:
        return []
    prof, hot = before["profile"], before["hot"]
    load = " → ".join(f"{x:.2f}" for x in before.get("load", []))
    out = ["", f"### The profile before the hot-path work (commit {before['commit'][:10]}, {before['date']})", "",
           f"`python -m bench.snapshot` at that commit (a worktree of it, the bench database, no worker): the same "
           f"in-process profile of {prof['steps']} engine steps, 1-minute load {load}; saved in "
           f"`bench/profile_before.json`. Under the profiler: {num(prof['per_step_ms'], 1)} ms per step then, "
           f"{num(now['per_step_ms'], 1)} ms now; hot path {hot['statements']} statements, "
           f"{hot['commits']} transactions ({hot['write_commits']} writing) then, "
           f"{r['hot']['engine']['statements']} statements, {r['hot']['engine']['commits']} transactions now.", ""]
    was = {p["function"]: p for p in prof["phases"]}
    functions = list(dict.fromkeys([p["function"] for p in prof["phases"]] + [p["function"] for p in now["phases"]]))
    current = {p["function"]: p for p in now["phases"]}
    rows = []
    for function in functions:
        a, b = was.get(function), current.get(function)
        rows.append([(a or b or {}).get("what", ""), f"`{function}`",
                     num(a["calls"], 1) if a else "–", num(a["ms"]) if a else "–",
                     num(b["calls"], 1) if b else "–", num(b["ms"]) if b else "–"])
    out += table(["piece", "function", "calls / step, before", "ms / step, before", "calls / step, now",
                  "ms / step, now"], rows)
    out += ["", "The top of the profile before, by cumulative time:", "", "```", prof["table"], "```", "",
            "<details><summary>The hot path's statements before (one mid-task step)</summary>", "", "```",
            *hot["sql"], "```", "</details>"]
    return out


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan
