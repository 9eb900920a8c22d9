"""Structured logs: LOG_FORMAT=json lines carry the task, run and step ids, in a real celery worker too."""
from __future__ import annotations

import json
import logging

import pytest

from tests.agents.helpers import wait_for
from tests.fakes import processes
from xantuus import logs


def record(message: str, **extra) -> logging.LogRecord:
    rec = logging.getLogger("agents.executor").makeRecord("agents.executor", logging.WARNING, __file__, 1, message,
                                                          (), None, extra=extra)
    logs.ContextFilter().filter(rec)
    return rec


def test_a_json_line_carries_the_bound_ids_extras_and_the_exception():
    logs.bind(taskId="c0task", run=2, step=3)
    try:
        line = json.loads(logs.JsonFormatter().format(record("step failed", outcome="failed")))
        try:
            raise ValueError("boom")
        except ValueError:
            rec = record("crashed")
            import sys

            rec.exc_info = sys.exc_info()
        crashed = json.loads(logs.JsonFormatter().format(rec))
    finally:
        logs.clear()
    assert (line["taskId"], line["run"], line["step"], line["outcome"]) == ("c0task", 2, 3, "failed")
    assert line["level"] == "WARNING" and line["logger"] == "agents.executor" and line["message"] == "step failed"
    assert line["time"].endswith("Z")
    assert "ValueError: boom" in crashed["exception"]
    assert "taskId" not in json.loads(logs.JsonFormatter().format(record("after the step"))), "cleared"


def test_the_logging_config_switches_to_json_lines(monkeypatch):
    assert "formatter" not in logs.logging_config("INFO")["handlers"]["console"]
    monkeypatch.setenv("LOG_FORMAT", "json")
    handler = logs.logging_config("INFO")["handlers"]["console"]
    assert handler["formatter"] == "json" and handler["filters"] == ["context"]


@pytest.mark.slow
def test_a_worker_logs_json_lines_that_follow_one_run(transactional_db, settings, loopback_allowed, hn_server, user,
                                                      tmp_path):
    from tasks_app import services
    from xantuus.celery import app

    settings.EMBEDDED = False
    app.control.purge()
    worker = processes.celery_worker("worker", processes.stack_env(LOG_FORMAT="json"), tmp_path)
    try:
        processes.wait_until_ready(worker, "ready.")
        plan = {"steps": [{"action": "http.get", "params": {"url": f"{hn_server.url}/topstories.json"}},
                          {"action": "http.getBatch", "params": {"ids": "{step1.result.slice(0,2)}"}}]}
        task = services.task_create(user=user, title="followed in the logs", plan=plan)
        services.task_execute(task=task)
        wait_for(lambda: task.__class__.objects.get(id=task.id).status == "completed", timeout=60, what="the run")
        wait_for(lambda: worker.log_path.read_text().count('"outcome": "completed"'), what="the last step's line")
    finally:
        worker.stop()
    lines = [json.loads(line) for line in worker.log_path.read_text().splitlines() if line.startswith("{")]
    assert any("ready." in line["message"] for line in lines), "the worker's own records are JSON too"
    mine = [line for line in lines if line.get("taskId") == task.id]
    steps = {(line["run"], line["step"]): line["outcome"] for line in mine
             if line["logger"] == "agents.tasks" and "step" in line}
    assert steps[(1, 1)] == "step-completed" and steps[(1, 2)] == "step-completed", mine
    assert not any(line.get("outcome") == "planned" for line in mine), "its own plan was planned in the request"
