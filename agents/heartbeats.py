"""Heartbeats: each Celery worker (and the embedded in-process runner) says it is alive, what it
consumes and runs, and beat's sweeper records each tick; /readyz and /ops/ read them.

A worker's heartbeat is a daemon thread of its main process (started on `worker_ready`), so
it reports even while every pool slot is busy; it never touches a task's state.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from tasks_app.ops_data import WorkerHeartbeat

log = logging.getLogger(__name__)
BEAT = "beat"
_stop = threading.Event()


def interval_s() -> float:
    return max(1.0, float(settings.AGENT_WORKER_HEARTBEAT_S))


def stale_after_s() -> float:
    return max(60.0, 3 * interval_s())


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not every platform has it
        return []


def report(name: str, *, kind: str, queues: list[str], concurrency: int, active: list[dict[str, Any]],
           processed: int, started_at: datetime | None) -> None:
    WorkerHeartbeat.objects.update_or_create(name=name[:200], defaults={
        "kind": kind, "pid": os.getpid(), "queues": queues, "concurrency": concurrency, "active": active[:50],
        "processed": processed, "load": _load(), "started_at": started_at, "last_seen": timezone.now(),
        "stopped_at": None,
    })


def beat_tick() -> None:
    """Beat's sweeper ran (celery-beat's schedule, or the embedded runner's): one UPDATE of one row."""
    now = timezone.now()
    if not WorkerHeartbeat.objects.filter(name=BEAT).update(last_seen=now, pid=os.getpid(), stopped_at=None):
        WorkerHeartbeat.objects.get_or_create(name=BEAT, defaults={"kind": WorkerHeartbeat.Kind.BEAT,
                                                                   "pid": os.getpid(), "last_seen": now})


def _celery_active() -> tuple[list[dict[str, Any]], int]:
    from celery.worker import state

    running = [{"name": request.name, "taskId": str((request.args or [""])[0])[:32]}
               for request in list(state.active_requests)]
    return running, int(sum(state.total_count.values()))


def _celery_beat_loop(consumer: Any, started_at: datetime) -> None:
    name = consumer.hostname
    queues = sorted(q.name for q in (consumer.app.amqp.queues.consume_from or {}).values())
    concurrency = int(getattr(consumer.controller, "concurrency", 0) or 0)
    try:
        while True:
            try:
                close_old_connections()
                active, processed = _celery_active()
                report(name, kind=WorkerHeartbeat.Kind.WORKER, queues=queues, concurrency=concurrency,
                       active=active, processed=processed, started_at=started_at)
            except Exception:  # the database may be restarting: the next beat tries again
                log.warning("heartbeat of %s not written", name, exc_info=True)
            if _stop.wait(interval_s()):
                return
    finally:
        connection.close()


def start_worker_heartbeat(consumer: Any) -> None:
    """Celery's worker_ready (sent by the consumer): report now and every AGENT_WORKER_HEARTBEAT_S."""
    _stop.clear()
    thread = threading.Thread(target=_celery_beat_loop, args=(consumer, timezone.now()), daemon=True,
                              name="xantuus-heartbeat")
    thread.start()


def stop_worker_heartbeat(worker: Any) -> None:
    """Celery's worker_shutdown: a clean stop says goodbye, so the worker is not shown as lost."""
    _stop.set()
    try:
        close_old_connections()
        WorkerHeartbeat.objects.filter(name=worker.hostname).update(stopped_at=timezone.now(), active=[])
    except Exception:
        log.warning("goodbye of %s not written", worker.hostname, exc_info=True)


INLINE_NAME = f"inline@{socket.gethostname()}:{os.getpid()}"
_inline_started = timezone.now()


def inline_tick() -> None:
    """The embedded runner is the worker: it reports itself with each sweep."""
    if not WorkerHeartbeat.objects.filter(name=INLINE_NAME).update(last_seen=timezone.now(), stopped_at=None,
                                                                    load=_load()):
        report(INLINE_NAME, kind=WorkerHeartbeat.Kind.INLINE, queues=[f"agent.{p}" for p in settings.PRIORITIES],
               concurrency=1, active=[], processed=0, started_at=_inline_started)
