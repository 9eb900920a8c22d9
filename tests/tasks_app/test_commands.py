"""The management commands: run_task and replay_task on the embedded runner, and demo."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tasks_app.models import Task
from tests.agents.helpers import seed_hn_plan

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("inline_engine")


def test_run_task_json_prints_only_the_final_task(tmp_path, hn_server):
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps({"title": "Daily HN Summary", "priority": "high",
                                     "plan": seed_hn_plan(hn_server.url)}))
    out = io.StringIO()
    call_command("run_task", str(task_file), "--json", stdout=out)
    final = json.loads(out.getvalue())
    assert final["status"] == "completed" and final["progress"] == 100
    assert final["credits"] == 135 and [s["action"] for s in final["steps"]][-1] == "email.send"
    assert "Story number 1" in final["result"]["outputs"]["step3"]
    assert Task.objects.get(id=final["taskId"]).priority == "high"


def test_run_task_accepts_the_seeds_agent_type_example(tmp_path, hn_server):
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps({"type": "research", "goal": "Daily HN digest",
                                     "config": {"sources": ["hackernews"], "count": 2}}))
    out = io.StringIO()
    call_command("run_task", str(task_file), "--json", stdout=out)
    assert json.loads(out.getvalue())["result"]["storiesProcessed"] == 2


@pytest.mark.parametrize("body, message", [
    ("{not json", "cannot read task file"),
    ('{"title": "x", "colour": "red"}', "unknown field(s) in the task file: colour"),
    ('{"description": "no title"}', "needs a non-empty 'title'"),
    ('{"title": "x", "agentType": "telepathy"}', "invalid task (agentType): unknown agent type 'telepathy'"),
])
def test_run_task_refuses_bad_files_with_a_clear_message(tmp_path, body, message):
    task_file = tmp_path / "task.json"
    task_file.write_text(body)
    with pytest.raises(CommandError) as error:
        call_command("run_task", str(task_file))
    assert message in str(error.value)
    assert Task.objects.count() == 0


def test_run_task_exits_non_zero_when_the_task_fails(tmp_path, hn_server):
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps({"title": "404", "plan": {"steps": [
        {"action": "http.get", "params": {"url": f"{hn_server.url}/missing.json"}}]}}))
    with pytest.raises(CommandError) as error:
        call_command("run_task", str(task_file))
    assert "ended failed" in str(error.value) and "answered 404" in str(error.value)


def test_replay_task_from_step_n(tmp_path, hn_server):
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps({"title": "Daily HN Summary", "plan": seed_hn_plan(hn_server.url)}))
    out = io.StringIO()
    call_command("run_task", str(task_file), "--json", stdout=out)
    original = json.loads(out.getvalue())["taskId"]
    fetched = len(hn_server.requests)
    out = io.StringIO()
    call_command("replay_task", original, "--from-step", "3", "--json", stdout=out)
    replay = json.loads(out.getvalue())
    assert replay["status"] == "completed" and replay["taskId"] != original
    assert len(hn_server.requests) == fetched
    with pytest.raises(CommandError, match="fromStep must be between 1 and 4"):
        call_command("replay_task", original, "--from-step", "9")


def test_the_demo_runs_on_the_embedded_default_with_no_servers(tmp_path):
    """The README's first command's job, in a fresh process: SQLite, inline runner, offline LLM."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY"}}
    env["XANTUUS_VAR_DIR"] = str(tmp_path)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120)
    done = subprocess.run([python, "manage.py", "demo", "--json"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    final = json.loads(done.stdout)
    assert final["status"] == "completed" and final["result"]["storiesProcessed"] == 5
    assert (tmp_path / "xantuus.sqlite3").exists()
    [mail_file] = list((tmp_path / "mail").iterdir())
    assert "Show HN: A durable job queue" in mail_file.read_text()
