"""A parallel plan's shape: which steps wait for which, and which may start now (pure, no database).

A plan runs in parallel when at least one of its steps declares `dependsOn`; then a step
waits for the steps it names there and for every step its `params` or `when` refer to, and
a step that waits for nothing starts at once. A plan where no step declares `dependsOn`
keeps its sequential meaning: each step after the one before (agents/executor.py).
"""
from __future__ import annotations

from typing import Any

from .expressions import references


def is_parallel(plan: dict[str, Any] | None) -> bool:
    return bool(plan) and (plan or {}).get("mode") != "react" and any(  # a model-driven run has no steps ahead
        step.get("dependsOn") for step in (plan or {}).get("steps", []))


def dependencies(plan: dict[str, Any]) -> dict[int, set[int]]:
    """Step number -> the numbers of the steps it waits for."""
    steps = plan.get("steps", [])
    number_of = {f"step{n}": n for n in range(1, len(steps) + 1)}
    number_of.update({step["id"]: n for n, step in enumerate(steps, start=1) if step.get("id")})
    waits: dict[int, set[int]] = {}
    for n, step in enumerate(steps, start=1):
        names = set(step.get("dependsOn") or []) | references(step.get("params")) | references(step.get("when"))
        waits[n] = {number_of[name] for name in names if name in number_of and number_of[name] != n}
    return waits


def ready(plan: dict[str, Any], finished: set[int], started: set[int]) -> list[int]:
    """The steps that may start now: not started, and everything they wait for finished."""
    return [n for n, needs in dependencies(plan).items() if n not in started and needs <= finished]


def critical_path(plan: dict[str, Any], durations: list[int]) -> int:
    """How long the plan takes when each step starts as soon as what it waits for ended."""
    ends: dict[int, int] = {}
    for n, needs in sorted(dependencies(plan).items()):  # a step waits only for earlier steps (agents/plan.py)
        ends[n] = max((ends.get(m, 0) for m in needs), default=0) + durations[n - 1]
    return max(ends.values(), default=0)
