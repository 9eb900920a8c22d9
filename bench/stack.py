"""Starting and stopping the bench's real servers: `celery worker` processes and daphne."""
from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import config
from tests.fakes.processes import Server, free_port


def server_env(probe_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(config.environment())
    env["BENCH_PROBE_DIR"] = str(probe_dir)
    env.update(extra)
    return env


def start_worker(name: str, probe_dir: Path, log_dir: Path, **extra: str) -> Server:
    """One worker process with one prefork child (-c 1): the unit the bench scales by."""
    args = [sys.executable, "-m", "celery", "-A", "bench.app", "worker", "-l", "warning", "-P", "prefork",
            "-c", "1", "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle"]
    worker = Server(name, args, server_env(probe_dir, **extra), log_dir)
    _wait(lambda: _ready(probe_dir, f"{name}@"), worker, "ready")
    return worker


def _ready(probe_dir: Path, hostname_prefix: str) -> bool:
    for path in probe_dir.glob("*.tsv"):
        for line in path.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[1] == "ready" and parts[2].startswith(hostname_prefix):
                return True
    return False


def start_daphne(probe_dir: Path, log_dir: Path, name: str = "daphne", **extra: str) -> tuple[Server, int]:
    port = free_port()
    args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "xantuus.asgi:application"]
    server = Server(name, args, server_env(probe_dir, **extra), log_dir)
    _wait(lambda: _listening(port), server, "listening")
    return server, port


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(condition: Callable[[], bool], server: Server, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if not server.alive():
            raise RuntimeError(f"{server.name} exited:\n{server.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.name} not {what} after {timeout}s:\n{server.tail()}")
        time.sleep(0.1)


def child_pids(pid: int) -> list[int]:
    """The direct children of `pid` (a prefork worker's pool processes)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def pool_pid(worker: Server) -> int:
    """The one prefork child of a `-c 1` worker: the process that runs its tasks."""
    children = child_pids(worker.process.pid)
    if len(children) != 1:
        raise RuntimeError(f"expected one pool process under worker {worker.process.pid}, found {children}")
    return children[0]


def rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")
