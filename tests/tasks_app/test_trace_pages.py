"""The trace viewer on the task page: long values folded, screenshots shown as images (owner only, only
files in the owner's artifacts), retries and errors per step, the trace downloaded as JSON, and in
Chromium the failed-steps filter."""
from __future__ import annotations

import io
import json
import re

import pytest
from django.conf import settings
from PIL import Image

from tasks_app.models import Task, TaskExecution
from tests.fakes import processes
from tests.tasks_app.test_pages import CHROMIUM_ARGS, text_of
from tools.browser_session import DEFAULT_EXECUTABLE
from tools.config import setting


def png_of(task: Task, name: str) -> tuple[str, bytes]:
    folder = settings.MEDIA_ROOT / "artifacts" / str(task.user_id) / task.id
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(buffer, "PNG")
    (folder / name).write_bytes(buffer.getvalue())
    return str(folder / name), buffer.getvalue()


@pytest.fixture
def traced(user, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    task = Task.objects.create(user=user, title="watch the shop", agent_type="browser_automation", status="failed",
                               attempts=1, current_step=2, total_steps=2, error="step 2 failed",
                               execution_trace={"taskId": "x", "steps": [{"step": 1}, {"step": 2}]})
    path, png = png_of(task, "screenshot-1.png")
    long_text = "price list " * 100
    TaskExecution.objects.create(
        task=task, run=1, step=1, action="prices.check", tool="prices", status="completed", duration=2300,
        credits=30, tokens=0, reasoning="read the pages", idempotency_key="k1",
        input={"urls": [f"https://shop.example/{n}" for n in range(30)]},
        output={"pages": [{"url": "https://shop.example/0", "text": long_text,
                           "screenshot": {"path": path, "width": 4, "height": 3}}]})
    TaskExecution.objects.create(task=task, run=1, step=2, action="email.send", tool="email", status="failed",
                                 attempts=2, duration=800, error="SMTP said 451: try again later",
                                 idempotency_key="k2", input={"to": "ada@example.com"})
    return task, png


@pytest.mark.django_db
def test_the_task_page_folds_long_values_shows_screenshots_retries_and_errors(client, user, traced):
    task, png = traced
    client.force_login(user)
    response = client.get(f"/tasks/{task.id}/")
    html, page = response.content.decode(), text_of(response)
    assert "… [+10 items]" in page and f"… [+{len('price list ' * 100) - 240} characters]" in page
    assert page.count("(long values folded)") == 2 and "Show it all (" in page
    assert "2 transient failures" in page and "SMTP said 451: try again later" in page and "read the pages" in page
    step = TaskExecution.objects.get(task=task, step=1)
    shot = f"/tasks/{task.id}/steps/{step.id}/screenshots/1"
    assert f'<img src="{shot}" alt="Screenshot 1 of step 1" width="4" height="3"' in html
    image = client.get(shot)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content) == png
    assert client.get(f"/tasks/{task.id}/steps/{step.id}/screenshots/2").status_code == 404

    download = client.get(f"/tasks/{task.id}/trace.json")
    assert download["Content-Disposition"] == f'attachment; filename="trace-{task.id}-run-1.json"'
    body = json.loads(download.content)
    assert [s["action"] for s in body["steps"]] == ["prices.check", "email.send"]
    assert body["steps"][0]["output"]["pages"][0]["text"] == "price list " * 100, "the download is whole"
    assert body["trace"]["steps"] == [{"step": 1}, {"step": 2}]


@pytest.mark.django_db
def test_screenshots_and_traces_are_the_owners_and_only_files_of_their_artifacts(client, user, traced,
                                                                                django_user_model):
    task, _ = traced
    step = TaskExecution.objects.get(task=task, step=1)
    eve = django_user_model.objects.create_user(username="eve", password="pw-eve-123")
    client.force_login(eve)
    assert client.get(f"/tasks/{task.id}/trace.json").status_code == 404
    assert client.get(f"/tasks/{task.id}/steps/{step.id}/screenshots/1").status_code == 404
    client.force_login(user)
    outside = settings.MEDIA_ROOT / "elsewhere.png"
    outside.write_bytes(b"\x89PNG not yours")
    TaskExecution.objects.filter(id=step.id).update(output={"path": str(outside), "width": 1, "height": 1})
    assert client.get(f"/tasks/{task.id}/steps/{step.id}/screenshots/1").status_code == 404
    TaskExecution.objects.filter(id=step.id).update(output={"path": "../../elsewhere.png", "width": 1, "height": 1})
    assert client.get(f"/tasks/{task.id}/steps/{step.id}/screenshots/1").status_code == 404


@pytest.mark.slow
@pytest.mark.browser
def test_the_failed_steps_filter_hides_the_others_in_chromium(transactional_db, user, traced, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    task, _ = traced  # its screenshot lies in this test's MEDIA_ROOT: daphne is told so
    server, daphne = processes.daphne(processes.stack_env(XANTUUS_MEDIA_ROOT=str(settings.MEDIA_ROOT)), tmp_path)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=setting("AGENT_BROWSER_EXECUTABLE", DEFAULT_EXECUTABLE),
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"http://{daphne}/tasks/{task.id}/")
            page.get_by_label("Username").fill("ada")
            page.get_by_label("Password").fill("pw-ada-123")
            page.get_by_role("button", name="Log in").click()
            steps = page.locator("ol.timeline > li")
            expect(steps).to_have_count(2)
            page.get_by_label("Show only failed steps").check()
            expect(steps.nth(0)).to_be_hidden()
            expect(steps.nth(1)).to_be_visible()
            expect(steps.nth(1).locator('[data-role="step-error"]')).to_have_text("SMTP said 451: try again later")
            page.get_by_label("Show only failed steps").uncheck()
            expect(steps.nth(0)).to_be_visible()
            shot = steps.nth(0).locator("img")
            expect(shot).to_have_attribute("alt", "Screenshot 1 of step 1")
            page.wait_for_function("img => img.complete && img.naturalWidth === 4", arg=shot.element_handle())
            steps.nth(0).locator("summary", has_text="Output").click()
            expect(steps.nth(0).locator('details[data-key="output-1"] > pre.json')).to_contain_text(
                re.compile(r"… \[\+\d+ characters\]"))
        finally:
            browser.close()
            server.stop()
