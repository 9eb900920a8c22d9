"""Health of the stack (reads only): each worker as it last reported, and whether this deployment is
ready to run agents (database, Redis, a worker seen within the last minute, beat's last tick).

On the embedded default there is no Redis, no Celery worker and no beat: the in-process runner
is all three, and it is ready when its thread runs in this process and its sweeper ticked.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from agents.dispatch import INLINE
from agents.heartbeats import stale_after_s

from .ops_data import WorkerHeartbeat

REDIS_TIMEOUT_S = 1.0


def stale_after() -> timedelta:
    return timedelta(seconds=stale_after_s())


def workers() -> list[dict[str, Any]]:
    """Every worker, runner and beat row, newest report first within its kind; stale ones flagged."""
    now, limit = timezone.now(), stale_after()
    rows = []
    for row in WorkerHeartbeat.objects.order_by("kind", "-last_seen"):
        age = (now - row.last_seen).total_seconds()
        rows.append({
            "name": row.name, "kind": row.kind, "pid": row.pid, "queues": row.queues, "concurrency": row.concurrency,
            "active": row.active, "processed": row.processed, "load": row.load, "startedAt": row.started_at,
            "lastSeen": row.last_seen, "ageSeconds": round(age, 1), "stopped": row.stopped_at is not None,
            "stale": row.stopped_at is None and now - row.last_seen > limit,
        })
    return rows


def _database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, f"{connection.vendor} answers"
    except Exception as exc:
        return False, f"the database does not answer: {type(exc).__name__}: {str(exc).strip()[:200]}"


def _redis() -> tuple[bool, str]:
    if settings.EMBEDDED:
        return True, "not used: the embedded default (REDIS_URL unset)"
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_S,
                                  socket_connect_timeout=REDIS_TIMEOUT_S)
    try:
        client.ping()
        return True, "answers PING"
    except Exception as exc:
        return False, f"Redis does not answer at {_safe_url(settings.REDIS_URL)}: {type(exc).__name__}: {exc}"
    finally:
        client.close()


def _safe_url(url: str) -> str:
    """The URL without a password, for a reason a load balancer may log."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def _worker(now: Any) -> tuple[bool, str]:
    if settings.EMBEDDED:
        if not INLINE.running:
            INLINE.start()  # it starts with the first wake-up; a server asked whether it is ready starts it now
            return True, "the in-process runner was started in this process"
        return True, "the in-process runner runs in this process"
    fresh = WorkerHeartbeat.objects.filter(kind=WorkerHeartbeat.Kind.WORKER, stopped_at__isnull=True,
                                           last_seen__gte=now - timedelta(minutes=1))
    count = fresh.count()
    if not count:
        last = WorkerHeartbeat.objects.filter(kind=WorkerHeartbeat.Kind.WORKER).order_by("-last_seen").first()
        seen = f"; last seen: {last.name} at {last.last_seen.isoformat()}" if last else "; none ever reported"
        return False, f"no worker seen within the last minute{seen}"
    return True, f"{count} worker(s) seen within the last minute"


def _beat(now: Any) -> tuple[bool, str]:
    if settings.EMBEDDED:  # the runner checked by _worker is the beat
        return True, f"the in-process runner sweeps every {max(settings.WORKER_POLL_INTERVAL, 200)} ms"
    row = WorkerHeartbeat.objects.filter(name="beat").first()
    if row is None:
        return False, "beat never ticked (no sweep ran)"
    age = (now - row.last_seen).total_seconds()
    if age > 60:
        return False, f"beat's last tick was {round(age)} s ago, at {row.last_seen.isoformat()}"
    return True, f"last tick {round(age, 1)} s ago"


def readiness() -> dict[str, Any]:
    """{"ready": bool, "checks": {name: {"ok", "detail"}}, "reasons": [...]}: each check runs even when
    another failed (a database that is down fails the worker and beat checks too)."""
    now = timezone.now()
    ok_db, detail_db = _database()
    checks = {"database": (ok_db, detail_db), "redis": _redis()}
    if ok_db:
        checks["worker"], checks["beat"] = _worker(now), _beat(now)
    else:
        checks["worker"] = checks["beat"] = (False, "unknown: the database does not answer")
    reasons = [f"{name}: {detail}" for name, (ok, detail) in checks.items() if not ok]
    return {"ready": not reasons, "mode": "embedded" if settings.EMBEDDED else "full",
            "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in checks.items()},
            "reasons": reasons}
