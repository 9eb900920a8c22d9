"""The web pages through Django's test client: login, owner scoping, what each page shows.

The browser test at the end drives real Chromium against daphne and a celery worker: the
wizard creates a plan-driven task and the task page follows it live to the end.
"""
from __future__ import annotations

import json
import re

import pytest
from django.utils import timezone
from django.utils.html import escape

from agents.dispatch import INLINE
from agents.metrics import record_run
from tasks_app import lifecycle
from tasks_app.models import Approval, Notification, Task, TaskExecution
from tests.agents.helpers import seed_hn_plan
from tools.browser_session import DEFAULT_EXECUTABLE
from tools.config import setting

PAGES = ["/", "/tasks/", "/tasks/new"]


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def intruder(django_user_model):
    return django_user_model.objects.create_user(username="eve", password="pw-eve-123")


@pytest.fixture
def finished(user):
    task = Task.objects.create(user=user, title="Daily HN Summary", agent_type="research", status="completed",
                               attempts=1, current_step=2, total_steps=2, total_credits=130, execution_time=2400,
                               last_run_at=timezone.now(),
                               result={"summary": "five stories"},
                               execution_trace={"taskId": "t", "steps": []})
    for n, action in enumerate(["http.get", "ai.summarize"], start=1):  # each step's trace entry is in its row
        TaskExecution.objects.create(task=task, run=1, step=n, action=action, tool=action.split(".")[0],
                                     input={"url": f"https://example.org/{n}"}, output={"items": [n]},
                                     reasoning=f"reason {n}", status="completed", credits=65, duration=1200,
                                     idempotency_key=f"task:{task.id}:run:1:step:{n}",
                                     trace_entry={"step": n, "reasoning": "fetch <top>" if n == 1 else f"reason {n}",
                                                  "action": action, "timestamp": f"2026-12-03T10:00:0{n}+00:00"})
    return task


def text_of(response) -> str:
    """The page's visible text, roughly: tags removed, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.mark.django_db
@pytest.mark.parametrize("path", [*PAGES, "/tasks/c0abc/"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"] == f"/login/?next={path}"


@pytest.mark.django_db
def test_logging_in_with_the_form_leads_to_the_dashboard(client, user):
    assert client.get("/login/").status_code == 200
    wrong = client.post("/login/", {"username": "ada", "password": "nope"})
    assert "didn't match" in text_of(wrong)
    response = client.post("/login/", {"username": "ada", "password": "pw-ada-123", "next": "/tasks/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/tasks/" and "Log out (ada)" in text_of(response)


@pytest.mark.django_db
def test_dashboard_shows_metrics_recent_tasks_notifications_and_approvals(logged_in, user, finished, intruder):
    waiting = Task.objects.create(user=user, title="Mass mail", status="awaiting_approval", attempts=1)
    Approval.objects.create(task=waiting, run=1, step=2, kind="policy", action="email.send",
                            question="step 2 wants to call email.send: email to more than 10 recipients")
    Notification.objects.create(user=user, task=finished, kind="completed", message="Daily HN Summary completed")
    Task.objects.create(user=intruder, title="Eve's secret task")
    record_run(finished.id, "completed")  # what the engine writes as a run ends
    page = text_of(logged_in.get("/"))
    # waiting for a person is not running: no active agent
    for seen in ("Active agents 0", "Queue depth 0", "Success rate 100%", "Error rate 0%", "Runs 1", "130 24h",
                 "research 1 1 0 100% 2.4 s 0 0 130", "Daily HN Summary", "Mass mail",
                 "email to more than 10 recipients", "Daily HN Summary completed"):
        assert seen in page, seen
    assert "Eve's secret task" not in page
    logged_in.post("/notifications/read")
    assert not Notification.objects.filter(user=user, read=False).exists()


@pytest.mark.django_db
def test_task_list_filters_by_status_and_agent_type(logged_in, user, finished):
    Task.objects.create(user=user, title="Pending custom one")
    assert "Pending custom one" in text_of(logged_in.get("/tasks/"))
    completed = text_of(logged_in.get("/tasks/", {"status": "completed"}))
    assert "Daily HN Summary" in completed and "Pending custom one" not in completed
    custom = text_of(logged_in.get("/tasks/", {"agentType": "custom"}))
    assert "Pending custom one" in custom and "Daily HN Summary" not in custom
    assert "Daily HN Summary" in text_of(logged_in.get("/tasks/", {"status": "bogus"}))  # unknown: no filter


@pytest.mark.django_db
def test_task_page_shows_steps_result_and_trace_and_hides_other_users_tasks(logged_in, finished, client, intruder):
    page = logged_in.get(f"/tasks/{finished.id}/")
    text = text_of(page)
    for seen in ("Daily HN Summary", "completed", "100%", "step 2 of 2", "http.get", "ai.summarize",
                 "reason 1", "1.2 s", "65 credits", "five stories", "Execution trace"):
        assert seen in text, seen
    assert escape('"reasoning": "fetch <top>"') in page.content.decode()  # the trace, readable and escaped
    assert f'data-last-seq="{finished.event_seq}"' in page.content.decode()
    live = logged_in.get(f"/tasks/{finished.id}/live")
    assert live.status_code == 200 and "ai.summarize" in text_of(live)

    client.force_login(intruder)
    assert client.get(f"/tasks/{finished.id}/").status_code == 404
    assert client.get(f"/tasks/{finished.id}/live").status_code == 404


@pytest.mark.django_db
def test_wizard_prefills_the_seed_example_and_shows_service_errors_next_to_the_field(logged_in, user):
    page = logged_in.get("/tasks/new")
    assert "Weekly report on AI automation trends" in page.content.decode()
    assert escape('"keywords": [') in page.content.decode()  # the seed's research config, prefilled

    bad_cron = logged_in.post("/tasks/new", {"kind": "research", "title": "Research", "priority": "medium",
                                             "agent_config": json.dumps({"schedule": "every morning"})})
    assert bad_cron.status_code == 400
    errors = re.search(r'id="errors-agent_config".*?</ul>', bad_cron.content.decode(), re.S)
    assert errors and "not a cron expression of 5 fields" in errors.group(0)

    bad_json = logged_in.post("/tasks/new", {"kind": "plan", "title": "Plan", "priority": "medium",
                                             "plan": "{steps: oops"})
    assert "the plan is not valid JSON" in re.search(r'id="errors-plan".*?</ul>', bad_json.content.decode(),
                                                     re.S).group(0)
    bad_plan = logged_in.post("/tasks/new", {"kind": "plan", "title": "Plan", "priority": "medium",
                                             "plan": json.dumps({"steps": [{"action": "nope.never"}]})})
    assert "nope.never" in re.search(r'id="errors-plan".*?</ul>', bad_plan.content.decode(), re.S).group(0)
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_wizard_creates_the_task_and_opens_its_page(logged_in, user):
    response = logged_in.post("/tasks/new", {"kind": "plan", "title": "Daily HN Summary", "priority": "high",
                                             "agent_config": "{\"ignored\": true}",
                                             "plan": json.dumps(seed_hn_plan("https://example.org/v0"))})
    task = Task.objects.get(user=user)
    assert response.status_code == 302 and response["Location"] == f"/tasks/{task.id}/"
    assert (task.status, task.priority, task.agent_type, task.agent_config) == ("pending", "high", None, None)
    assert len(task.plan["steps"]) == 4
    assert "Run" in text_of(logged_in.get(response["Location"]))


def test_approval_panel_and_api_approve_then_the_step_acts(logged_in, user, inline_engine):
    recipients = [f"r{n}@example.com" for n in range(11)]
    task = Task.objects.create(user=user, title="Mass mail", plan={"steps": [
        {"action": "email.send", "params": {"to": recipients, "subject": "Hi", "body": "Hello"}}]})
    logged_in.post(f"/api/agent/execute/{task.id}", {}, content_type="application/json")
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    page = text_of(logged_in.get(f"/tasks/{task.id}/"))
    assert "Approval needed" in page and "email to more than 10 recipients" in page and "Approve" in page

    approvals = logged_in.get(f"/api/agent/{task.id}/approvals").json()
    assert [(a["status"], a["kind"], a["action"]) for a in approvals] == [("pending", "policy", "email.send")]
    decided = logged_in.post(f"/api/approvals/{approvals[0]['id']}/decide", {"approve": True},
                             content_type="application/json")
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    assert decided.json()["decidedBy"] == "ada"
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    assert task.status == "completed"
    again = logged_in.post(f"/api/approvals/{approvals[0]['id']}/decide", {"approve": False},
                           content_type="application/json")
    assert again.status_code == 400 and "already decided" in again.json()["error"]["message"]


@pytest.mark.django_db
def test_approvals_of_other_users_are_not_found(client, user, intruder):
    task = Task.objects.create(user=user, title="mine", status="pending")
    lifecycle.require("cancel", task_id=task.id)
    approval = Approval.objects.create(task=task, run=1, step=1, kind="policy", question="?")
    client.force_login(intruder)
    assert client.get(f"/api/agent/{task.id}/approvals").status_code == 404
    answer = client.post(f"/api/approvals/{approval.id}/decide", {"approve": True}, content_type="application/json")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_swagger_ui_is_served_from_local_static_files(client):
    docs = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in docs
    assert "cdn.jsdelivr" not in docs and "unpkg" not in docs


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser_page():
    """A page of real Chromium (Debian's), closed after the test. No ORM calls while it is open:
    Playwright's greenlet has its own context, so Django would open a connection nobody closes."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=setting("AGENT_BROWSER_EXECUTABLE", DEFAULT_EXECUTABLE),
                                             args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()


@pytest.mark.slow
@pytest.mark.browser
def test_browser_creates_a_task_in_the_wizard_and_watches_it_complete_live(
        hn_server, celery_worker, daphne, user, browser_page):
    from playwright.sync_api import expect

    hn_server.delays["/item/"] = 0.3  # steps take a moment: the page must follow them live
    page, base = browser_page, f"http://{daphne}"
    page.goto(f"{base}/tasks/new")
    expect(page).to_have_url(re.compile(r"/login/\?next=/tasks/new$"))
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("pw-ada-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="New task")).to_be_visible()
    assert page.eval_on_selector(".topbar", "e => getComputedStyle(e).backgroundColor") == "rgb(20, 26, 43)"

    page.get_by_role("radio", name="Explicit plan").check()
    expect(page.get_by_label("Configuration (JSON)")).to_be_hidden()
    page.get_by_label("Plan (JSON)").fill(json.dumps(seed_hn_plan(hn_server.url), indent=2))
    page.get_by_label("Title").fill("Daily HN Summary from the wizard")
    expect(page.get_by_label("Start it now")).to_be_checked()
    page.get_by_role("button", name="Create task").click()

    expect(page).to_have_url(re.compile(r"/tasks/\w+/$"))
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    head = page.locator(".task-head")
    expect(head.locator('[data-role="live"]')).to_have_text("● live")
    expect(head.locator('[data-role="status"]')).to_have_text("completed", timeout=90_000)
    steps = page.locator("ol.timeline > li")
    expect(steps).to_have_count(4)
    for n, action in enumerate(["http.get", "http.getBatch", "ai.summarize", "email.send"]):
        expect(steps.nth(n).locator(".action")).to_have_text(action)
        expect(steps.nth(n).locator('[data-role="status"]')).to_have_text("completed")
    expect(page.locator('#progress [data-role="progress-text"]')).to_have_text("100%")
    expect(page.locator('[data-role="current-step"]')).to_have_text("4")
    steps.nth(2).locator("summary", has_text="Output").click()
    expect(steps.nth(2).locator("details pre").nth(1)).to_contain_text("Story number 1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Daily HN Summary from the wizard")
    assert page.evaluate("window.sameDocument") is True
