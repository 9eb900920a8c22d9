"""Screenshots of the web pages for the README, taken on the real stack.

`bin/screenshots` (or `python -m tests.screenshots`): a fresh PostgreSQL database and a Redis
database of its own, daphne and a celery worker as subprocesses, the local Hacker News server
as the data source; a demo user runs a few tasks (completed research, one awaiting approval,
one failed); Chromium saves docs/screenshots/*.png, 1280 px wide. Never touches other databases.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
DATABASE_URL = os.environ.get("SCREENSHOTS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/xantuus_screenshots")
REDIS_URL = os.environ.get("SCREENSHOTS_REDIS_URL", "redis://127.0.0.1:6379/13")
USER, PASSWORD = "demo", "demo-password-1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def fresh_database(url: str) -> None:
    """Drop and create the screenshots' own database."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def wait_status(task_id: str, wanted: set[str], timeout: float = 90) -> str:
    from tasks_app.models import Task

    deadline = time.monotonic() + timeout
    while True:
        status = Task.objects.filter(id=task_id).values_list("status", flat=True).get()
        if status in wanted:
            return status
        if time.monotonic() > deadline:
            raise RuntimeError(f"task {task_id} is {status}, not {wanted}, after {timeout}s")
        time.sleep(0.2)


def demo_tasks(user: Any, hn_url: str) -> dict[str, str]:
    """Run the demo tasks through the services; their ids by role."""
    from tasks_app import services

    def run(wanted: set[str], **kwargs: Any) -> str:
        task = services.task_create(user=user, **kwargs)
        services.task_execute(task=task)
        wait_status(task.id, wanted)
        return task.id

    team = [f"teammate{n}@example.com" for n in range(1, 13)]
    ids = {
        "research": run({"completed"}, title="Daily HN Summary", agent_type="research", priority="high",
                        agent_config={"sources": ["hackernews"], "count": 5, "email": False,
                                      "schedule": "0 9 * * *"}),
        "research2": run({"completed"}, title="Top 3 stories for the standup", agent_type="research",
                         agent_config={"sources": ["hackernews"], "count": 3, "email": False}),
        "approval": run({"awaiting_approval"}, title="Weekly digest to the whole team", plan={"steps": [
            {"action": "http.get", "params": {"url": f"{hn_url}/topstories.json"}},
            {"action": "email.send", "params": {"to": team, "subject": "Weekly digest",
                                                "body": "This week's top stories: {step1.result.slice(0,5)}"}}]}),
        "failed": run({"failed"}, title="Read the cloud metadata service", priority="low", plan={"steps": [
            {"action": "http.get", "params": {"url": "http://169.254.169.254/latest/meta-data/"}}]}),
    }
    services.task_create(user=user, title="Check competitor pricing daily", agent_type="browser_automation",
                         agent_config={"urls": ["competitor1.com/pricing"], "selector": ".price",
                                       "alertThreshold": 99.99})
    return ids


def shoot(base: str, ids: dict[str, str]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ.get("AGENT_BROWSER_EXECUTABLE",
                                                                            "/usr/bin/chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.set_default_timeout(30_000)
        page.goto(f"{base}/login/")
        page.get_by_label("Username").fill(USER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/")

        only = set(filter(None, os.environ.get("SCREENSHOTS_ONLY", "").split(",")))  # e.g. "wizard": just those

        def save(name: str, path: str, ready: str, *, before: Any = None, max_height: int = 2200) -> None:
            if only and name not in only:
                return
            page.goto(f"{base}{path}")
            page.locator(ready).first.wait_for()
            if before:
                before()
            page.wait_for_timeout(400)  # the websocket badge and transitions settle
            height = min(page.evaluate("document.documentElement.scrollHeight"), max_height)
            target = OUT / f"{name}.png"
            page.screenshot(path=str(target), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": height})
            saved.append(target)

        def open_output_and_trace() -> None:
            page.locator("ol.timeline > li").nth(2).locator("summary", has_text="Output").click()
            page.locator("summary", has_text="The agent log").click()

        save("dashboard", "/", ".metrics")
        save("ops", "/ops/", '[data-chart="runs"] rect.bar', max_height=2600)
        def fill_wizard() -> None:  # a price watch from the fields: the schedule's next runs and the plan preview
            page.get_by_role("radio", name="Browser automation").check()
            page.get_by_label("Schedule", exact=True).fill("0 9 * * 1-5")
            page.locator('#plan-preview li[data-action="email.send"]').wait_for()
            page.locator('[data-role="next-runs"] li').first.wait_for()

        save("wizard", "/tasks/new", "#wizard", before=fill_wizard, max_height=2600)
        save("task", f"/tasks/{ids['research']}/", '[data-role="live"][data-state="live"]',
             before=open_output_and_trace, max_height=2400)
        save("task-approval", f"/tasks/{ids['approval']}/", '[data-role="approval-panel"]')
        save("admin-task", f"/admin/tasks_app/task/{ids['research']}/change/", "#content", max_height=2600)
        save("api-docs", "/api/docs/", ".swagger-ui .opblock", max_height=1800)
        browser.close()
    return saved


def main() -> int:
    fresh_database(DATABASE_URL)
    from tests.fakes.hn_server import FakeHackerNews

    hn = FakeHackerNews()
    hn.__enter__()
    var_dir = tempfile.mkdtemp(prefix="xantuus-screenshots-")
    os.environ.update({
        "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "DJANGO_SETTINGS_MODULE": "xantuus.settings",
        "HACKERNEWS_API_URL": hn.url, "AGENT_EGRESS_ALLOWLIST": "127.0.0.0/8,::1/128,localhost",
        "XANTUUS_VAR_DIR": var_dir, "AGENT_RETRY_BASE_S": "0.05",
    })
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from tests.fakes import processes
    from xantuus.celery import app

    call_command("migrate", verbosity=0)
    app.control.purge()
    user = get_user_model().objects.create_superuser(USER, "demo@example.com", PASSWORD)
    logs = Path(var_dir)
    worker = processes.celery_worker("worker", processes.stack_env(), logs)
    daphne, host = processes.daphne(processes.stack_env(), logs)
    beat = processes.Server("beat", [sys.executable, "-m", "celery", "-A", "xantuus", "beat", "-l", "info",
                                     "-s", str(logs / "beat-schedule")], processes.stack_env(), logs)
    try:
        processes.wait_until_ready(worker, "ready.")
        ids = demo_tasks(user, hn.url)
        OUT.mkdir(parents=True, exist_ok=True)
        for path in shoot(f"http://{host}", ids):
            print(path.relative_to(ROOT))
    finally:
        beat.stop()
        daphne.stop()
        worker.stop()
        hn.__exit__(None, None, None)
    print(json.dumps({"logs": var_dir}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
