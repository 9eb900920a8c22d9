"""What the numbers were measured on: machine, versions, load, date."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path


def _first(path: str, prefix: str) -> str:
    for line in Path(path).read_text().splitlines():
        if line.startswith(prefix):
            return line.split(":", 1)[1].strip()
    return "?"


def _run(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def load_average() -> float:
    return os.getloadavg()[0]


def busy_processes(limit: int = 5) -> list[str]:
    """The other busiest processes right now (by CPU), to say what else was running."""
    out = _run(["ps", "-eo", "pcpu,args", "--sort=-pcpu", "--no-headers"])
    mine = ("bench.run", "xantuus_bench", "ps -eo")  # this run, its database backends, this ps
    rows = [line.strip()[:90] for line in out.splitlines() if line.strip() and not any(m in line for m in mine)]
    return rows[:limit]


def describe() -> dict[str, str]:
    import celery
    import channels
    import django

    postgres = _run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version"])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "nproc": str(os.cpu_count()),
        "memory": f"{int(_first('/proc/meminfo', 'MemTotal').split()[0]) / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "django": django.get_version(),
        "celery": celery.__version__,
        "channels": channels.__version__,
        "redis-server": _run(["redis-server", "--version"]).split(" v=")[-1].split()[0] or "?",
        "postgres": postgres or "?",
    }
