"""/metrics: Prometheus's text format, parsed with prometheus_client's own parser, after a known set of
runs (two completed, one of them after a retry; one failed after its retries); open to loopback only,
else with the bearer token."""
from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tasks_app import credit_ledger, services
from tasks_app.models import TaskExecution
from tasks_app.ops_data import RunRecord, WorkerHeartbeat
from tests.agents.helpers import run_inline, wait_for


def two_step_plan(url: str) -> dict:
    return {"steps": [
        {"action": "http.get", "params": {"url": f"{url}/topstories.json"}},
        {"action": "http.getBatch", "params": {"ids": "{step1.result.slice(0,2)}"}},
    ]}


def scrape(client, **headers) -> dict[str, dict]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    families = {}
    for family in text_string_to_metric_families(response.content.decode()):
        families[family.name] = {"type": family.type, "samples": family.samples}
    return families


def value(families: dict, family: str, sample: str | None = None, **labels: str) -> float:
    matches = [s.value for s in families[family]["samples"]
               if s.name == (sample or family) and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (family, sample, labels, families[family]["samples"])
    return matches[0]


@pytest.mark.usefixtures("inline_engine")
def test_metrics_hold_the_runs_steps_retries_credits_and_queue_after_known_runs(client, user, hn_server, settings):
    settings.AGENT_MAX_RETRIES = 1
    task = services.task_create(user=user, title="top stories", plan=two_step_plan(hn_server.url))
    hn_server.fail_next["/topstories.json"] = [503]  # retried once, then it works
    assert run_inline(task).status == "completed"
    assert run_inline(task).status == "completed"
    hn_server.fail_next["/item/9001.json"] = [503, 503]  # gives up at step 2
    assert run_inline(task).status == "failed"
    services.task_create(user=user, title="never run", plan=two_step_plan(hn_server.url))
    wait_for(lambda: WorkerHeartbeat.objects.filter(kind="inline").exists() and WorkerHeartbeat.objects.filter(
        kind="beat").exists(), what="the runner's sweep to report it and beat's tick")

    families = scrape(client)
    expected = {"xantuus_active_agents": "gauge", "xantuus_queue_depth": "gauge", "xantuus_success_ratio": "gauge",
                "xantuus_error_ratio": "gauge", "xantuus_average_duration_seconds": "gauge",
                "xantuus_credits_used": "gauge", "xantuus_runs": "counter", "xantuus_run_duration_seconds": "histogram",
                "xantuus_step_duration_seconds": "histogram", "xantuus_time_to_first_step_seconds": "histogram",
                "xantuus_steps": "counter", "xantuus_step_retries": "counter", "xantuus_tasks": "gauge",
                "xantuus_approvals_pending": "gauge", "xantuus_dead_letters": "gauge",
                "xantuus_circuits_open": "gauge", "xantuus_credits_spent": "counter", "xantuus_tokens": "counter",
                "xantuus_worker_last_seen_timestamp_seconds": "gauge", "xantuus_worker_up": "gauge",
                "xantuus_worker_active_tasks": "gauge", "xantuus_beat_last_tick_timestamp_seconds": "gauge"}
    assert {name: families[name]["type"] for name in expected} == expected

    assert value(families, "xantuus_runs", "xantuus_runs_total", agent_type="custom", status="completed") == 2
    assert value(families, "xantuus_runs", "xantuus_runs_total", agent_type="custom", status="failed") == 1
    assert value(families, "xantuus_success_ratio", window="24h") == pytest.approx(2 / 3, abs=1e-4)
    assert value(families, "xantuus_error_ratio", window="24h") == pytest.approx(1 / 3, abs=1e-4)
    assert value(families, "xantuus_step_retries", "xantuus_step_retries_total", action="http.get") == 1
    assert value(families, "xantuus_step_retries", "xantuus_step_retries_total", action="http.getBatch") == 1
    assert value(families, "xantuus_steps", "xantuus_steps_total", action="http.getBatch", status="failed") == 1
    assert value(families, "xantuus_steps", "xantuus_steps_total", action="http.getBatch", status="completed") == 2
    steps = TaskExecution.objects.filter(task=task, action="http.get")
    assert value(families, "xantuus_step_duration_seconds", "xantuus_step_duration_seconds_count",
                 action="http.get") == 3
    assert value(families, "xantuus_step_duration_seconds", "xantuus_step_duration_seconds_sum",
                 action="http.get") == pytest.approx(sum(s.duration for s in steps) / 1000)
    assert value(families, "xantuus_step_duration_seconds", "xantuus_step_duration_seconds_bucket",
                 action="http.get", le="+Inf") == 3
    assert value(families, "xantuus_time_to_first_step_seconds", "xantuus_time_to_first_step_seconds_count",
                 first_action="http.get") == 3
    assert value(families, "xantuus_run_duration_seconds", "xantuus_run_duration_seconds_count",
                 agent_type="custom") == 3
    spent = sum(credit_ledger.charged(task.id, n) for n in (1, 2, 3))
    assert spent == sum(r.credits for r in RunRecord.objects.all()) > 0
    assert value(families, "xantuus_credits_spent", "xantuus_credits_spent_total", agent_type="custom") == spent
    assert value(families, "xantuus_credits_used", window="24h") == spent
    assert value(families, "xantuus_dead_letters") == 1
    assert value(families, "xantuus_tasks", status="failed") == 1 and value(families, "xantuus_tasks",
                                                                            status="pending") == 1
    assert value(families, "xantuus_queue_depth", priority="medium") == 0, "a task never run does not wait"
    assert value(families, "xantuus_active_agents") == 0
    assert value(families, "xantuus_approvals_pending") == 0
    assert value(families, "xantuus_worker_up", worker=families["xantuus_worker_up"]["samples"][0].labels["worker"],
                 kind="inline") == 1, "the embedded runner reports itself"
    assert value(families, "xantuus_beat_last_tick_timestamp_seconds") > 0


@pytest.mark.django_db
def test_metrics_are_open_to_loopback_only_unless_the_bearer_token_is_set(client, settings):
    settings.AGENT_METRICS_TOKEN = ""
    away = {"REMOTE_ADDR": "203.0.113.9"}
    refused = client.get("/metrics", **away)
    assert refused.status_code == 403 and "AGENT_METRICS_TOKEN" in refused.json()["error"]["message"]
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200

    settings.AGENT_METRICS_TOKEN = "s3cret-scrape-token"
    missing = client.get("/metrics", **away)
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **away).status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Token s3cret-scrape-token", **away).status_code == 401
    scraped = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", **away)
    assert scraped.status_code == 200 and b"xantuus_active_agents" in scraped.content
    assert b"s3cret" not in scraped.content
    assert client.post("/metrics").status_code == 405
