"""Issue 14's targets, checked against one run's results: (target, measured, met)."""
from __future__ import annotations

import math
from typing import Any

from bench.stats import ratio


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _feed(ws: dict[str, Any], where: str) -> list[tuple[str, str, bool]]:
    """The live feed's targets for one scenario: latency, and nothing lost once clients refill."""
    who = f"{ws['subscribers']:,} subscribers {where}"
    return [
        (f"websocket commit → receive p50 ≤ 50 ms, p99 ≤ 250 ms ({who})",
         f"p50 {_fmt(ws['p50'], 1)} ms, p99 {_fmt(ws['p99'], 1)} ms", ws["p50"] <= 50 and ws["p99"] <= 250),
        (f"0 events lost with {who}", f"{ws['dropped']} dropped live, {ws['lost']} lost after refill "
         f"({ws['closed']} sockets closed by the server)", ws["lost"] == 0),
    ]


def check(r: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Issue 14's targets, in its order (and the project's 2× goal beside them)."""
    return [*_overhead(r), *_hot_path(r["hot"]["engine"]), *_growth(r["growth"]), _cpu(r["tp1"]),
            *_feed(r["ws"]["many"], "on one task"),
            *_feed(r["ws"]["spread"], f"over {r['ws']['spread']['tasks']} tasks"),
            ("POST /execute → first step p50 ≤ 20 ms", f"{_fmt(r['first_step']['p50'], 1)} ms",
             r["first_step"]["p50"] <= 20),
            *_backlog(r["backlog"]), _scale(r["tp1"], r["tp2"]), _rss(r["rss"]), _load(r["load"])]


def _overhead(r: dict[str, Any]) -> list[tuple[str, str, bool]]:
    floor, events, engine = r["latency"]["floor"], r["latency"]["events"], r["latency"]["engine"]
    p50x, p99x = ratio(engine["p50"], floor["p50"]), ratio(engine["p99"], floor["p99"])
    vs3 = ratio(engine["p50"], events["p50"])
    return [
        ("engine step overhead p50 ≤ 4× floor", f"{p50x:.1f}× ({_fmt(engine['p50'])} vs {_fmt(floor['p50'])} ms)",
         p50x <= 4),
        ("engine step overhead p50 ≤ 1.5× layer 3 (same writes and events by hand)",
         f"{vs3:.2f}× ({_fmt(engine['p50'])} vs {_fmt(events['p50'])} ms)", vs3 <= 1.5),
        ("engine step overhead p99 ≤ 5× floor", f"{p99x:.1f}× ({_fmt(engine['p99'])} vs {_fmt(floor['p99'])} ms)",
         p99x <= 5),
        ("the project's goal: engine step overhead p50 ≤ 2× floor (not an issue 14 target)",
         f"{p50x:.1f}× (2× = {_fmt(2 * floor['p50'])} ms)", p50x <= 2),
    ]


def _hot_path(hot: dict[str, Any]) -> list[tuple[str, str, bool]]:
    read_only = hot["commits"] - hot["write_commits"]
    return [
        ("≤ 1 writing commit per step (hot path)", f"{hot['write_commits']} writing commit(s)",
         hot["write_commits"] <= 1),
        ("no read-only transactions around it (hot path)", f"{read_only} read-only transaction(s)", read_only == 0),
        ("≤ 6 statements per step (hot path)", f"{hot['statements']} statements ({hot['writes']} writes, "
         f"{hot['rows']} rows written)", hot["statements"] <= 6),
    ]


def _growth(g: dict[str, Any]) -> list[tuple[str, str, bool]]:
    early, late = g["counts"][str(g["early"])], g["counts"][str(g["late"])]
    return [(f"step {g['late']} overhead ≤ 1.2× step {g['early']}'s ({g['steps']}-step task, in process)",
             f"{g['ratio']:.2f}× ({_fmt(g['late_ms'])} vs {_fmt(g['early_ms'])} ms; {late['statements']} vs "
             f"{early['statements']} statements)", g["ratio"] <= 1.2)]


def _cpu(tp1: dict[str, Any]) -> tuple[str, str, bool]:
    engine, events = tp1["engine"]["worker_cpu_ms"], tp1["events"]["worker_cpu_ms"]
    x = ratio(engine, events)
    return ("worker CPU per step ≤ 2× layer 3's", f"{x:.2f}× ({_fmt(engine)} vs {_fmt(events)} ms, 1 worker)", x <= 2)


def _backlog(b: dict[str, Any]) -> list[tuple[str, str, bool]]:
    flagged = [(group, q["sql"][:40], ", ".join(q["seq_scans_big"])) for group, queries in b["queries"].items()
               for q in queries if q["seq_scans_big"]]
    where = f"{b['queued']:,} queued, {b['rows']:,} step rows"
    return [
        (f"step overhead with a backlog ({where}) ≤ 1.2× the empty database's",
         f"{b['ratio']:.2f}× ({_fmt(b['backlog_ms'])} vs {_fmt(b['empty_ms'])} ms, step 2 in process)",
         b["ratio"] <= 1.2),
        (f"every hot query uses an index ({where})", "no sequential scan of a big table" if not flagged else
         f"{len(flagged)} statement(s) scan a big table sequentially: " + "; ".join(
             f"{g.split(' (')[0]}: {t} in `{s}…`" for g, s, t in flagged), not flagged),
    ]


def _scale(tp1: dict[str, Any], tp2: dict[str, Any]) -> tuple[str, str, bool]:
    sps1, sps2 = tp1["engine"]["sps"], tp2["engine"]["sps"]
    scale = ratio(sps2, sps1)
    return ("2 workers ≥ 1.6× the steps/s of 1 (engine)", f"{scale:.2f}× ({_fmt(sps2, 1)} vs {_fmt(sps1, 1)} steps/s)",
            scale >= 1.6)


def _rss(rss: dict[str, Any]) -> tuple[str, str, bool]:
    return (f"worker RSS grows < 10% over {rss['steps']:,} steps (run_step calls)",
            f"{rss['growth_pct']:+.1f}% ({rss['before_kib'] / 1024:.1f} → {rss['after_kib'] / 1024:.1f} MiB)",
            rss["growth_pct"] < 10)


def _load(load: dict[str, Any]) -> tuple[str, str, bool]:
    return (f"load run: all {load['tasks']:,} tasks finish", f"{load['statuses'].get('completed', 0):,} completed, "
            f"{load['completed_steps']:,}/{load['tasks'] * load['steps']:,} steps", load["all_finished"])
