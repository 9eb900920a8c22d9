"""Fault injection against real servers: each scenario runs whole in tests/faults/driver.py,
with a PostgreSQL cluster, a redis-server, an SMTP sink and celery processes of its own,
and prints its figures (run pytest with -s to see them)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fakes.processes import ROOT

pytestmark = pytest.mark.slow


def scenario(name: str, timeout: float = 240) -> dict:
    done = subprocess.run([sys.executable, "-m", "tests.faults.driver", name], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("FIGURES ")]
    assert done.returncode == 0 and lines, f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    figures = json.loads(lines[-1].removeprefix("FIGURES "))
    print(f"\n{name}: " + ", ".join(f"{key}={value}" for key, value in figures.items()))
    return figures


def assert_all_completed_once(figures: dict) -> None:
    assert figures["completed"] == figures["submitted"] and figures["lost"] == 0 and figures["failed"] == 0
    assert figures["side_effects_duplicated"] == 0 and figures["step_rows_duplicated"] == 0
    assert figures["emails_distinct"] == figures["submitted"], "every task's email arrived, once"


def test_kill_9_of_the_worker_mid_steps_loses_nothing_and_sends_nothing_twice():
    figures = scenario("kill9")
    assert figures["kills"] == 5
    assert_all_completed_once(figures)
    assert figures["held"] == figures.get("settled_done", 0) + figures.get("settled_not_done", 0)


def test_a_redis_restart_loses_wake_ups_but_no_task():
    figures = scenario("redis_restart")
    assert_all_completed_once(figures)


def test_a_postgresql_restart_mid_run_is_survived():
    figures = scenario("postgres_restart")
    assert_all_completed_once(figures)


def test_the_same_step_message_delivered_twice_at_once_runs_once():
    figures = scenario("duplicate_delivery")
    assert_all_completed_once(figures)
    assert figures["step_rows"] == figures["submitted"] and figures["messages_sent"] == 2 * figures["submitted"]
