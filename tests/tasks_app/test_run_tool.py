"""run_tool: one call outside any task, under the same policy and validation, JSON out."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_tool(*args: str, allow: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"AGENT_EGRESS_ALLOWLIST", "REDIS_URL"}}
    env["AGENT_EGRESS_ALLOWLIST"] = allow
    return subprocess.run([sys.executable, "manage.py", "run_tool", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_call_prints_its_output_as_json(hn_server):
    done = run_tool("http.get", "--input", json.dumps({"url": f"{hn_server.url}/topstories.json"}),
                    allow="127.0.0.1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [s["id"] for s in hn_server.stories]


def test_the_egress_policy_applies(hn_server):
    done = run_tool("http.get", "--input", json.dumps({"url": f"{hn_server.url}/topstories.json"}))
    assert done.returncode == 1 and done.stdout == ""
    assert "127.0.0.1, a private, loopback or reserved address" in done.stderr
    assert hn_server.requests == []


def test_input_validation_and_unknown_actions_fail_with_the_reason():
    done = run_tool("http.get", "--input", '{"link": 1}')
    assert done.returncode == 1 and "invalid input for http.get: url: Field required" in done.stderr
    done = run_tool("http.fly")
    assert done.returncode == 1 and "tool 'http' has no action 'fly'" in done.stderr
    done = run_tool("http.get", "--input", "{oops")
    assert done.returncode == 1 and "--input is not valid JSON" in done.stderr


def test_list_shows_every_action_with_its_schema_and_cost():
    done = run_tool("list")
    catalog = {entry["action"]: entry for entry in json.loads(done.stdout)}
    assert catalog["email.send"]["sideEffect"] == "irreversible" and catalog["email.send"]["credits"] == 10
    assert catalog["http.get"]["inputSchema"]["required"] == ["url"]
    assert {"browser.extract", "code.run", "database.query", "search.multi", "image.chart"} <= set(catalog)
