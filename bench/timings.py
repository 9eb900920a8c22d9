"""Reading the workers' probe files: when each hop or step started and ended, and when events committed."""
from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path


class Probes:
    """All probe lines so far, indexed by (what, key) -> sorted times."""

    def __init__(self, probe_dir: Path):
        self.times: dict[tuple[str, str], list[float]] = defaultdict(list)
        for path in probe_dir.glob("*.tsv"):
            for line in path.read_text().splitlines():
                parts = line.split("\t")
                if len(parts) == 3:
                    self.times[(parts[1], parts[2])].append(float(parts[0]))
        for values in self.times.values():
            values.sort()

    def starts(self, what: str, key: str) -> list[float]:
        return self.times.get((f"start:{what}", key), [])

    def ends(self, what: str, key: str) -> list[float]:
        return self.times.get((f"end:{what}", key), [])

    def commit(self, task_id: str, seq: int) -> float | None:
        found = self.times.get(("commit", f"{task_id}:{seq}"))
        return found[0] if found else None


def step_intervals(probes: Probes, what: str, keys: list[str]) -> list[float]:
    """Start-to-start gaps between consecutive hops/steps of each chain: one step's full cycle."""
    gaps: list[float] = []
    for key in keys:
        starts = probes.starts(what, key)
        gaps.extend(b - a for a, b in itertools.pairwise(starts))
    return gaps


def last_end(probes: Probes, what: str, keys: list[str]) -> float:
    return max(max(probes.ends(what, key), default=0.0) for key in keys)
