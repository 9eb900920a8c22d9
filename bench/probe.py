"""Worker-side timing probe: one line per task start/end and per event commit, to a file per process.

Lines are `time<TAB>what<TAB>key`, written with one unbuffered O_APPEND write each (about
10 µs), the same for every layer. It measures; it changes nothing the engine does.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from celery import signals

PROBE_DIR = os.environ.get("BENCH_PROBE_DIR", "")
DONE_LIST = "bench:done"  # the bench process BLPOPs finished chains and tasks from here
FINISHED = frozenset({"completed", "failed", "cancelled"})
_fd: dict[int, int] = {}
_redis: list[Any] = []


def record(what: str, key: str) -> None:
    if not PROBE_DIR:
        return
    pid = os.getpid()
    if pid not in _fd:  # per process: a prefork child opens its own file
        _fd[pid] = os.open(Path(PROBE_DIR) / f"{pid}.tsv", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(_fd[pid], f"{time.time():.6f}\t{what}\t{key}\n".encode())


def signal_done(key: str) -> None:
    """Tell the bench process that a chain or task finished (once per chain, off the step path)."""
    if not _redis:
        import redis

        from bench import config

        _redis.append(redis.Redis.from_url(config.REDIS_URL))
    _redis[0].rpush(DONE_LIST, key)


def wait_done(broker: Any, timeout: float) -> str | None:
    """The next finished chain or task from DONE_LIST, or None after `timeout` s (polls in 1 s BLPOPs,
    as the Redis client's socket timeout may be shorter than one long BLPOP)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = broker.blpop([DONE_LIST], timeout=1)
        if got is not None:
            return str(got[1].decode())
    return None


def _key(args: Any) -> str:
    return str(args[0]) if args else ""


@signals.task_prerun.connect
def _started(task: Any = None, args: Any = None, **_: Any) -> None:
    record(f"start:{task.name.rsplit('.', 1)[-1]}", _key(args))


@signals.task_postrun.connect
def _ended(task: Any = None, args: Any = None, **_: Any) -> None:
    record(f"end:{task.name.rsplit('.', 1)[-1]}", _key(args))


@signals.worker_ready.connect
def _ready(sender: Any = None, **_: Any) -> None:
    record("ready", str(sender.hostname if sender is not None else ""))


def watch_commits() -> None:
    """Record when each event's transaction committed: events.publish runs in on_commit."""
    from tasks_app import events

    publish = events.publish

    def timed_publish(task_id: str, user_id: int, message: dict[str, Any]) -> None:
        record("commit", f"{task_id}:{message['seq']}")
        publish(task_id, user_id, message)
        event = json.loads(message["text"])
        if event.get("type") == "status" and event.get("status") in FINISHED:
            signal_done(task_id)

    events.publish = timed_publish
