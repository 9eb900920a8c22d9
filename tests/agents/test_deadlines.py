"""The task's time limit is a deadline every tool call gets: a hanging call ends at the limit."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tasks_app import services
from tasks_app.models import TaskExecution, ToolCircuit
from tests.fakes.scratch_db import scratch_database
from tools.base import ToolContext
from tools.errors import DeadlineExceeded

from .helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")

LIMIT = "task exceeded its time limit of 1500 ms (AGENT_TIMEOUT_MS)"


class HangingServer:
    """Answers nothing for `hang_s` seconds (or until closed), then 200 with an empty JSON list."""

    def __init__(self, hang_s: float):
        self.requests = 0
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                server.released.wait(hang_s)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"[]")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def hanging(loopback_allowed) -> Iterator[HangingServer]:
    server = HangingServer(hang_s=10)
    yield server
    server.close()


def timed_run(task: Any) -> tuple[Any, float]:
    started = time.monotonic()
    task = run_inline(task)
    return task, time.monotonic() - started


def test_a_hanging_http_call_ends_at_the_tasks_time_limit(user, hanging, settings):
    settings.AGENT_TIMEOUT_MS, settings.AGENT_HTTP_TIMEOUT_S = 1500, 30
    plan = {"steps": [{"action": "http.get", "params": {"url": f"{hanging.url}/slow.json"}}]}
    task, took = timed_run(services.task_create(user=user, title="hangs", plan=plan))
    assert task.status == "failed" and task.error.endswith(LIMIT), task.error
    assert took < 2.5, f"the task ended {took:.1f} s after it started"
    row = TaskExecution.objects.get(task=task, step=1)
    assert (row.status, row.attempts, row.error) == ("failed", 0, LIMIT), "the limit is no transient error to retry"
    assert hanging.requests == 1
    assert not ToolCircuit.objects.filter(failures__gt=0).exists(), "the host did not fail: the task ran out of time"


def test_steps_share_one_time_limit(user, hn_server, settings):
    settings.AGENT_TIMEOUT_MS = 1500
    hn_server.delays["/topstories.json"] = 0.6
    step = {"action": "http.get", "params": {"url": f"{hn_server.url}/topstories.json"}}
    task, took = timed_run(services.task_create(user=user, title="three slow reads", plan={"steps": [step] * 3}))
    assert task.status == "failed" and task.error.endswith(LIMIT), task.error
    assert took < 2.5, f"the task ended {took:.1f} s after it started"
    assert [r.status for r in TaskExecution.objects.filter(task=task).order_by("step")] == [
        "completed", "completed", "failed"], "the third read had 0.3 s left, and was cut off there"
    assert task.execution_time < 2000


def test_sandboxed_code_is_killed_at_the_tasks_time_limit(user, settings):
    settings.AGENT_TIMEOUT_MS = 1500
    plan = {"steps": [{"action": "code.run", "params": {"code": "while True:\n    pass\n", "timeoutS": 30}}]}
    task, took = timed_run(services.task_create(user=user, title="spins", plan=plan))
    assert task.status == "failed" and task.error.endswith(LIMIT), task.error
    assert took < 2.5, f"the task ended {took:.1f} s after it started"


def test_a_slow_statement_is_cancelled_at_the_tasks_time_limit(user, settings):
    settings.AGENT_TIMEOUT_MS = 1500
    with scratch_database("deadline", "CREATE TABLE t (id int)") as url:
        settings.AGENT_DATABASES = {"crm": {"url": url, "users": "*"}}
        plan = {"steps": [{"action": "database.query",
                           "params": {"connection": "crm", "sql": "SELECT pg_sleep(10)", "timeoutS": 60}}]}
        task, took = timed_run(services.task_create(user=user, title="sleeps", plan=plan))
    assert task.status == "failed" and task.error.endswith(LIMIT), task.error
    assert took < 2.5, f"the task ended {took:.1f} s after it started"


def test_remaining_caps_a_tools_own_timeout_by_the_tasks_time_left():
    assert ToolContext().remaining(30) == 30, "no deadline (run_tool): the tool's own timeout"
    soon = ToolContext(deadline=time.monotonic() + 2)
    assert 1.5 < soon.remaining(30) <= 2 and soon.remaining(0.5) == 0.5
    assert 1500 < soon.remaining_ms(15_000) <= 2000
    late = ToolContext(deadline=time.monotonic() - 0.1)
    with pytest.raises(DeadlineExceeded, match="time limit ran out before this call"):
        late.remaining(30)
    assert late.remaining_ms(15_000) == 1, "an open page's next wait times out at once"
