"""The issue's targets, checked against one run's results: (target, measured, met)."""
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
    floor, engine = r["latency"]["floor"], r["latency"]["engine"]
    hot, ws, rss, load = r["hot"]["engine"], r["ws"]["many"], r["rss"], r["load"]
    p50x, p99x = ratio(engine["p50"], floor["p50"]), ratio(engine["p99"], floor["p99"])
    sps1, sps2 = r["tp1"]["engine"]["sps"], r["tp2"]["engine"]["sps"]
    scale = ratio(sps2, sps1)
    return [
        ("engine step overhead p50 ≤ 2× floor", f"{p50x:.1f}× ({_fmt(engine['p50'])} vs {_fmt(floor['p50'])} ms)",
         p50x <= 2),
        ("engine step overhead p99 ≤ 5× floor", f"{p99x:.1f}× ({_fmt(engine['p99'])} vs {_fmt(floor['p99'])} ms)",
         p99x <= 5),
        ("≤ 1 commit per step (hot path)", f"{hot['write_commits']} writing + "
         f"{hot['commits'] - hot['write_commits']} read-only transactions", hot["write_commits"] <= 1),
        ("≤ 3 writes per step (hot path)", f"{hot['rows']} rows written by {hot['writes']} write statements "
         f"(of {hot['statements']} statements)", hot["rows"] <= 3 and hot["writes"] <= 3),
        ("2 workers ≥ 1.6× the steps/s of 1 (engine)",
         f"{scale:.2f}× ({_fmt(sps2, 1)} vs {_fmt(sps1, 1)} steps/s)", scale >= 1.6),
        ("POST /execute → first step p50 ≤ 30 ms", f"{_fmt(r['first_step']['p50'], 1)} ms",
         r["first_step"]["p50"] <= 30),
        *_feed(ws, "on one task"), *_feed(r["ws"]["spread"], f"over {r['ws']['spread']['tasks']} tasks"),
        (f"worker RSS grows < 10% over {rss['steps']:,} steps (run_step calls)",
         f"{rss['growth_pct']:+.1f}% ({rss['before_kib'] / 1024:.1f} → {rss['after_kib'] / 1024:.1f} MiB)",
         rss["growth_pct"] < 10),
        (f"load run: all {load['tasks']:,} tasks finish", f"{load['statuses'].get('completed', 0):,} completed, "
         f"{load['completed_steps']:,}/{load['tasks'] * load['steps']:,} steps", load["all_finished"]),
    ]
