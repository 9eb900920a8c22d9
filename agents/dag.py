"""A parallel plan's shape: which steps wait for which, and which may start now (pure, no database).

A step waits for the steps its `dependsOn` names and for every step its `params`, `when` or
`for_each` refer to; a step that waits for nothing starts at once. That is how a plan runs
when at least one step declares `dependsOn` (or `for_each`) and some steps do not wait for
the one before them. A plan where no step declares `dependsOn` keeps its sequential meaning:
each step after the one before (agents/executor.py), as does a chain of dependencies.
"""
from __future__ import annotations

from typing import Any

from .expressions import references


def is_parallel(plan: dict[str, Any] | None) -> bool:
    """Does the plan have steps that may run at the same time? A chain (each step waits, directly or
    not, for the one before) runs the same either way, so it runs sequentially, where a failed step
    may still be replanned or adapted to (agents/executor.py)."""
    if not plan or plan.get("mode") == "react":  # a model-driven run has no steps ahead
        return False
    if (plan.get("planning") or {}).get("replans") or plan.get("adaptedFrom"):
        return False  # a replanned or adapted run goes on step after step, past the steps it observed failing
    steps = plan.get("steps", [])
    if any(step.get("for_each") for step in steps):
        return True
    if not any(step.get("dependsOn") for step in steps):
        return False
    before = _transitive(dependencies(plan))
    return any(n - 1 not in before[n] for n in range(2, len(steps) + 1))


def _transitive(waits: dict[int, set[int]]) -> dict[int, set[int]]:
    closure: dict[int, set[int]] = {}
    for n in sorted(waits):  # a step waits only for earlier ones (agents/plan.py checks it)
        closure[n] = set().union(*(closure.get(m, set()) | {m} for m in waits[n])) if waits[n] else set()
    return closure


def dependencies(plan: dict[str, Any]) -> dict[int, set[int]]:
    """Step number -> the numbers of the steps it waits for."""
    steps = plan.get("steps", [])
    number_of = {f"step{n}": n for n in range(1, len(steps) + 1)}
    number_of.update({step["id"]: n for n, step in enumerate(steps, start=1) if step.get("id")})
    waits: dict[int, set[int]] = {}
    for n, step in enumerate(steps, start=1):
        names = (set(step.get("dependsOn") or []) | references(step.get("params")) | references(step.get("when"))
                 | references(step.get("for_each")))
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


def waiting_on(plan: dict[str, Any], step: int) -> set[int]:
    return dependencies(plan).get(step, set())
