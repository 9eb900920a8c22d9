"""The staff dashboard (/ops/): staff only; charts, per agent type tables, busiest users, slowest
actions, dead letters, open circuits and worker health (stale workers flagged); in real Chromium its
charts change as tasks run on a celery worker."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from agents.metrics import record_run
from tasks_app.models import DeadLetter, Task, TaskExecution, ToolCircuit
from tasks_app.ops_data import WorkerHeartbeat
from tests.tasks_app.test_pages import CHROMIUM_ARGS, text_of
from tools.browser_session import DEFAULT_EXECUTABLE
from tools.config import setting


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="olga", email="olga@example.com", password="pw-olga-123",
                                                 is_staff=True)


def finished_run(user, title: str, status: str, *, action: str = "http.get", duration: int = 1200) -> Task:
    task = Task.objects.create(user=user, title=title, agent_type="research", status=status, attempts=1,
                               execution_time=duration, last_run_at=timezone.now(), total_credits=40)
    TaskExecution.objects.create(task=task, run=1, step=1, action=action, tool=action.split(".")[0], status=status,
                                 duration=duration, idempotency_key=f"task:{task.id}:run:1:step:1",
                                 completed_at=timezone.now())
    record_run(task.id, status)
    return task


@pytest.mark.django_db
def test_the_ops_dashboard_is_for_staff_only(client, user):
    assert client.get("/ops/")["Location"] == "/login/?next=/ops/"
    client.force_login(user)
    assert client.get("/ops/").status_code == 403 and client.get("/ops/live").status_code == 403
    assert "Operations" not in text_of(client.get("/"))


@pytest.mark.django_db
def test_staff_see_every_users_runs_workers_dead_letters_and_circuits(client, staff, user, django_user_model):
    bob = django_user_model.objects.create_user(username="bob", password="pw-bob-123")
    finished_run(user, "the report of ada", "completed", action="search.hackernews", duration=4_000)
    failed = finished_run(user, "a broken report", "failed")
    finished_run(bob, "the report of bob", "completed")
    DeadLetter.objects.create(task=failed, run=1, step=1, action="http.get", error="gave up after 4 attempts: 503")
    ToolCircuit.objects.create(key="http:shop.example", tool="http", state="open", failures=5,
                               last_error="503 Service Unavailable", opened_until=timezone.now() + timedelta(minutes=1))
    now = timezone.now()
    WorkerHeartbeat.objects.create(name="celery@alive", kind="worker", queues=["agent.medium"], concurrency=4,
                                   active=[{"name": "agents.tasks.run_step", "taskId": failed.id}], processed=12,
                                   load=[0.5, 0.4, 0.3], last_seen=now)
    WorkerHeartbeat.objects.create(name="celery@gone", kind="worker", queues=["agent.medium"], last_seen=now
                                   - timedelta(minutes=5))
    client.force_login(staff)
    page = text_of(client.get("/ops/"))
    for seen in ("Operations", "Not ready", "Runs 3", "Success rate 66.67%", "Error rate 33.33%",
                 "research 3 2 1 66.67% 2.1 s", "ada 2 1 50%", "bob 1 0 100%", "search.hackernews 1 4.0 s 4.0 s",
                 "a broken report", "gave up after 4 attempts: 503", "http:shop.example 503 Service Unavailable open 5",
                 "celery@alive worker up", "1 / 4 run_step", "agent.medium", "0.5 0.4 0.3", "celery@gone worker stale"):
        assert seen in page, seen
    live = client.get("/ops/live?window=last7d")
    assert live.status_code == 200 and "<html" not in live.content.decode()
    assert 'data-chart="runs"' in live.content.decode()


@pytest.fixture
def olga_token(staff) -> str:
    return Token.objects.create(user=staff).key


@pytest.fixture
def chromium_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=setting("AGENT_BROWSER_EXECUTABLE", DEFAULT_EXECUTABLE),
                                             args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()


def plan(url: str) -> dict:
    return {"steps": [{"action": "http.get", "params": {"url": f"{url}/topstories.json"}},
                      {"action": "http.getBatch", "params": {"ids": "{step1.result.slice(0,2)}"}}]}


def run_through_the_api(page, base: str, token: str, body: dict) -> str:
    """Create and start a task over HTTP (no ORM while Chromium is open); wait for it to finish."""
    headers = {"Authorization": f"Token {token}"}
    task_id = page.request.post(f"{base}/api/workspace/tasks", data=body, headers=headers).json()["id"]
    assert page.request.post(f"{base}/api/agent/execute/{task_id}", data={"async": True}, headers=headers).ok
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = page.request.get(f"{base}/api/agent/status/{task_id}", headers=headers).json()["status"]
        if status in ("completed", "failed"):
            return status
        page.wait_for_timeout(200)
    raise AssertionError(f"task {task_id} did not finish")


@pytest.mark.slow
@pytest.mark.browser
def test_a_staff_user_sees_the_ops_charts_change_as_tasks_run(hn_server, celery_worker, daphne, olga_token,
                                                              chromium_page):
    from playwright.sync_api import expect

    page, base = chromium_page, f"http://{daphne}"
    page.goto(f"{base}/ops/")
    page.get_by_label("Username").fill("olga")
    page.get_by_label("Password").fill("pw-olga-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Operations", level=1)).to_be_visible()
    runs = page.locator('figure[data-chart="runs"]')
    expect(runs).to_have_attribute("data-completed", re.compile(r"^(0,)*0$"))
    assert page.locator('figure[data-chart="runs"] rect.bar').count() == 0
    expect(page.locator('tr[data-worker^="worker@"] [data-role="worker-state"]')).to_have_text("up")

    for _ in range(2):
        assert run_through_the_api(page, base, olga_token, {"title": "top stories", "plan": plan(hn_server.url)}) \
            == "completed"
    hn_server.fail_next["/topstories.json"] = [503] * 4  # the first try and AGENT_MAX_RETRIES retries
    assert run_through_the_api(page, base, olga_token, {"title": "broken", "plan": plan(hn_server.url)}) == "failed"

    # the page reloads its live part every few seconds: no reload by hand
    page.evaluate("window.sameDocument = true")
    expect(runs).to_have_attribute("data-completed", re.compile(r"(^|,)2$"), timeout=20_000)
    expect(runs).to_have_attribute("data-failed", re.compile(r"(^|,)1$"))
    expect(page.locator('figure[data-chart="runs"] rect.bar')).to_have_count(2)  # this hour: completed + failed
    expect(page.locator('figure[data-chart="rates"]')).to_have_attribute("data-success", re.compile(r"66\.67$"))
    expect(page.locator('[data-metric="runs"]')).to_have_text("3")
    expect(page.locator('tr[data-agent-type="custom"]')).to_contain_text("3")
    expect(page.locator("#dead-title")).to_contain_text("1 not requeued")
    assert page.evaluate("window.sameDocument") is True
