"""Fault scenarios, run whole in one process of their own: `python -m tests.faults.driver SCENARIO`.

The driver starts a private PostgreSQL cluster and redis-server (tests/faults/stack.py),
an SMTP sink and a Hacker-News-shaped server, migrates, then runs real `celery worker`
and `celery beat` processes against them, injects the fault, waits for the outcome and
prints one line `FIGURES {json}`. Settings come from the environment it sets before
Django starts, so this process's own database connection points at the private cluster.
"""
from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.faults.stack import PrivatePostgres, PrivateRedis
from tools.outbound_ids import message_id

ROOT = Path(__file__).resolve().parents[2]


class SlowSink:
    """The SMTP sink, slowed down so that a kill -9 can land in the middle of a send."""

    def __init__(self, delay: float):
        from aiosmtpd.controller import Controller

        from tests.fakes.smtp_sink import SMTPSink

        self.sink = SMTPSink(port=0)
        from tests.fakes.smtp_sink import _free_port

        self.sink.port = _free_port()
        delay_s, sink = delay, self.sink

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                await asyncio.sleep(delay_s)
                return await sink.handle_DATA(server, session, envelope)

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.sink.port)

    def step_message_ids(self) -> list[str]:
        ids = [str(m["Message-ID"]) for m in list(self.sink.messages)]
        return [i for i in ids if not i.startswith("<notification.")]  # a step's id is an HMAC, see tools.outbound_ids


class Driver:
    def __init__(self, work: Path, *, sink_delay: float = 0.3):
        from tests.fakes.hn_server import FakeHackerNews

        self.work = work
        self.pg, self.redis = PrivatePostgres(work), PrivateRedis(work)
        self.sink = SlowSink(sink_delay)
        self.hn = FakeHackerNews()
        self.hn.delays.update({"/topstories.json": 0.3, "/item/": 0.2})
        self.hn.server.handle_error = lambda request, address: None  # killed clients hang up mid-answer
        self.servers: list[Any] = []
        self.env: dict[str, str] = {}

    def start(self) -> None:
        self.pg.init()
        self.redis.start()
        self.sink.controller.start()
        self.hn.__enter__()
        self.env = {
            **os.environ, "DATABASE_URL": self.pg.url, "REDIS_URL": self.redis.url, "AGENT_LEASE_SECONDS": "3",
            "AGENT_RETRY_BASE_S": "0.2", "WORKER_POLL_INTERVAL": "1000", "PYTHONUNBUFFERED": "1",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.sink.sink.port), "EMAIL_TIMEOUT": "10",
            "AGENT_EGRESS_ALLOWLIST": "127.0.0.0/8,::1/128,localhost", "HACKERNEWS_API_URL": self.hn.url,
            "XANTUUS_VAR_DIR": str(self.work / "var"), "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "xantuus.settings",
        }
        os.environ.update(self.env)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=self.env, check=True)
        import django

        django.setup()

    def worker(self, name: str, concurrency: int = 4) -> Any:
        from tests.fakes import processes

        server = processes.celery_worker(name, self.env, self.work, concurrency=concurrency)
        self.servers.append(server)
        processes.wait_until_ready(server, "ready.")
        return server

    def beat(self) -> Any:
        from tests.fakes.processes import Server

        args = [sys.executable, "-m", "celery", "-A", "xantuus", "beat", "-l", "info",
                "--pidfile", str(self.work / "beat.pid"), "-s", str(self.work / "beat-schedule")]
        server = Server("beat", args, self.env, self.work)
        self.servers.append(server)
        return server

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        for action in (self.sink.controller.stop, lambda: self.hn.__exit__(None), self.redis.stop, self.pg.stop):
            try:
                action()
            except Exception:
                traceback.print_exc()

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ---\n{s.tail(30)}" for s in self.servers)


# --- reading the database through an outage -----------------------------------------------


def db(read: Callable[[], Any]) -> Any:
    """Run a read; while the database is down answer None instead of failing the driver."""
    from django.db import DatabaseError, close_old_connections

    try:
        close_old_connections()
        return read()
    except DatabaseError:
        from django.db import connection

        connection.close()
        return None


def wait(condition: Callable[[], Any], what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = db(condition)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def create_tasks(count: int, plan: dict[str, Any]) -> list[str]:
    from django.contrib.auth import get_user_model

    from tasks_app import services

    user = get_user_model().objects.create_user(username="ada", email="ada@example.com", password="pw-ada-123")
    ids = []
    for n in range(count):
        task = services.task_create(user=user, title=f"task {n}", plan=plan)
        services.task_execute(task=task)
        ids.append(task.id)
    return ids


def executions() -> int:
    from tasks_app.models import TaskExecution

    return TaskExecution.objects.count()


def settle_held(driver: Driver) -> dict[str, int]:
    """A person settles held steps: done if the sink received that step's email, else not done."""
    from tasks_app import services
    from tasks_app.models import Approval

    settled = collections.Counter()
    received = set(driver.sink.step_message_ids())
    for approval in Approval.objects.filter(kind="unknown_outcome", status="pending"):
        key = message_id(f"task:{approval.task_id}:run:{approval.run}:step:{approval.step}")
        done = key in received
        services.approval_decide(approval=approval, approve=True, done=done)
        settled["settled_done" if done else "settled_not_done"] += 1
    return dict(settled)


def run_to_completion(driver: Driver, ids: list[str], timeout: float) -> dict[str, int]:
    """Wait until every task completed, settling held ones on the way."""
    from tasks_app.models import Task

    settled: collections.Counter[str] = collections.Counter()
    deadline = time.monotonic() + timeout
    while True:
        statuses = db(lambda: collections.Counter(Task.objects.filter(id__in=ids).values_list("status", flat=True)))
        if statuses and statuses["awaiting_approval"]:
            settled.update(db(lambda: settle_held(driver)) or {})
        if statuses and statuses["completed"] + statuses["failed"] + statuses["cancelled"] == len(ids):
            return dict(settled)
        if time.monotonic() > deadline:
            raise TimeoutError(f"not all tasks finished after {timeout}s: {dict(statuses or {})}\n{driver.logs()}")
        time.sleep(0.2)


def figures(driver: Driver, ids: list[str], **extra: Any) -> dict[str, Any]:
    from tasks_app.models import Approval, Task, TaskExecution

    statuses = collections.Counter(Task.objects.filter(id__in=ids).values_list("status", flat=True))
    sent = collections.Counter(driver.sink.step_message_ids())
    rows = collections.Counter(TaskExecution.objects.filter(task_id__in=ids).values_list("task_id", "run", "step"))
    return {
        "submitted": len(ids), "completed": statuses["completed"], "failed": statuses["failed"],
        "lost": len(ids) - statuses["completed"] - statuses["failed"] - statuses["cancelled"],
        "held": Approval.objects.filter(task_id__in=ids, kind="unknown_outcome").count(),
        "emails_received": sum(sent.values()), "emails_distinct": len(sent),
        "side_effects_duplicated": sum(n - 1 for n in sent.values() if n > 1),
        "step_rows_duplicated": sum(n - 1 for n in rows.values() if n > 1),
        **extra,
    }


# --- the scenarios -----------------------------------------------------------------------------


def kill9(driver: Driver) -> dict[str, Any]:
    from tests.agents.helpers import seed_hn_plan

    driver.beat()
    ids = create_tasks(30, seed_hn_plan(driver.hn.url))
    started, kills = time.monotonic(), 0
    for n in range(5):
        worker = driver.worker(f"victim{n}")
        target = (db(executions) or 0) + random.randint(3, 8)
        wait(lambda t=target: executions() >= t, "progress before the kill", timeout=60)
        worker.kill()
        kills += 1
    driver.worker("survivor")
    settled = run_to_completion(driver, ids, timeout=150)
    return figures(driver, ids, kills=kills, **settled, seconds=round(time.monotonic() - started, 1))


def redis_restart(driver: Driver) -> dict[str, Any]:
    import redis as redis_client

    from tests.agents.helpers import seed_hn_plan

    driver.beat()
    workers = [driver.worker("w1")]
    ids = create_tasks(20, seed_hn_plan(driver.hn.url))
    started = time.monotonic()
    wait(lambda: executions() >= 10, "progress before the restart", timeout=60)
    client = redis_client.Redis.from_url(driver.redis.url)
    queued = sum(client.llen(key) for key in client.keys("agent.*"))
    client.close()
    driver.redis.stop()
    wait(lambda: "broker" in workers[0].log_path.read_text(errors="replace").lower().split("ready.")[-1],
         "the worker to notice the broker is gone", timeout=20)
    driver.redis.start()
    settled = run_to_completion(driver, ids, timeout=150)
    return figures(driver, ids, restarts=1, wakeups_dropped=queued, **settled,
                   seconds=round(time.monotonic() - started, 1))


def postgres_restart(driver: Driver) -> dict[str, Any]:
    from tests.agents.helpers import seed_hn_plan

    driver.beat()
    driver.worker("w1")
    ids = create_tasks(20, seed_hn_plan(driver.hn.url))
    started = time.monotonic()
    wait(lambda: executions() >= 10, "progress before the restart", timeout=60)
    from django.db import connection

    connection.close()
    driver.pg.stop("fast")  # every connection is cut
    driver.pg.start()
    settled = run_to_completion(driver, ids, timeout=150)
    db_errors = sum(s.log_path.read_text(errors="replace").count("OperationalError") for s in driver.servers)
    return figures(driver, ids, restarts=1, database_errors_seen_by_workers=db_errors, **settled,
                   seconds=round(time.monotonic() - started, 1))


def duplicate_delivery(driver: Driver) -> dict[str, Any]:
    from django.utils import timezone

    from agents import tasks as celery_tasks
    from tasks_app import lifecycle, services
    from tasks_app.models import TaskExecution

    driver.worker("w1", concurrency=1)
    driver.worker("w2", concurrency=1)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="ada", email="ada@example.com", password="pw-ada-123")
    plan = {"steps": [{"action": "email.send", "params": {"to": "{user.email}", "subject": "once", "body": "hi"}}]}
    ids = []
    for n in range(10):  # planned and executing, with no wake-up sent yet
        task = services.task_create(user=user, title=f"task {n}", plan=plan)
        lifecycle.require("start", task_id=task.id, attempts=1, started_at=timezone.now())
        lifecycle.require("planned", task_id=task.id, total_steps=1)
        ids.append(task.id)
    started = time.monotonic()
    for task_id in ids:  # the same message twice, at the same moment
        for _ in range(2):
            celery_tasks.run_step.apply_async(args=[task_id], queue="agent.medium")
    run_to_completion(driver, ids, timeout=60)
    not_leased = sum(s.log_path.read_text(errors="replace").count("'not-leased'") for s in driver.servers)
    return figures(driver, ids, messages_sent=2 * len(ids), deliveries_refused_by_lease=not_leased,
                   step_rows=TaskExecution.objects.filter(task_id__in=ids).count(),
                   seconds=round(time.monotonic() - started, 1))


SCENARIOS = {"kill9": kill9, "redis_restart": redis_restart, "postgres_restart": postgres_restart,
             "duplicate_delivery": duplicate_delivery}


def main(name: str) -> int:
    work = Path(tempfile.mkdtemp(prefix=f"xq-fault-{name}-"))
    driver = Driver(work)
    try:
        driver.start()
        result = SCENARIOS[name](driver)
        print("FIGURES " + json.dumps(result), flush=True)
        return 0
    except Exception:
        traceback.print_exc()
        print(driver.logs(), file=sys.stderr)
        return 1
    finally:
        driver.stop()
        if os.environ.get("XANTUUS_KEEP_FAULT_DIRS") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
