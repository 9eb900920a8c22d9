"""Percentiles and medians, in plain Python (no numpy needed)."""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    return {f"p{p}": percentile(seconds, p) * 1000 for p in (50, 95, 99)}


def median_of(dicts: Sequence[dict[str, float]]) -> dict[str, float]:
    """Key by key median over repeats."""
    return {key: statistics.median(d[key] for d in dicts) for key in dicts[0]} if dicts else {}


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan
