"""The attacks against the running stack (daphne on the test database and Redis), as the probe made them:
a page elsewhere opening the feed with the user's cookie (11), `/static/%2e%2e/...` (13), limits
counted in one process and not the other (6, 14), and real Chromium under the CSP (15).
"""
from __future__ import annotations

import asyncio
import http.client
import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tasks_app.models import Task, TaskExecution
from tests.fakes import processes

pytestmark = pytest.mark.slow
TRUSTED = "https://app.example"
TIMEOUT = 30


@pytest.fixture
def stack(transactional_db, settings, tmp_path) -> Iterator[str]:
    """daphne with a trusted origin and small limits; this process counts against the same limits."""
    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL must point at Redis: the shared limits and the feed live there")
    settings.AGENT_RATE_CREATE, settings.AGENT_RATE_LOGIN = "2/min", "3/hour"
    cache.clear()
    env = processes.stack_env(DJANGO_CSRF_TRUSTED_ORIGINS=TRUSTED, AGENT_RATE_CREATE="2/min", AGENT_RATE_LOGIN="3/hour")
    server, host = processes.daphne(env, tmp_path)
    try:
        yield host
    finally:
        server.stop()
        cache.clear()


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def first_message(url: str, **options) -> dict:
    async with connect(url, open_timeout=TIMEOUT, **options) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def refused_status(url: str, **options) -> int:
    try:
        async with connect(url, open_timeout=TIMEOUT, **options):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


async def close_code(url: str) -> int:
    async with connect(url, open_timeout=TIMEOUT) as ws:
        try:
            while True:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else -1


def test_the_feed_refuses_another_sites_page_riding_the_session_cookie(stack, user):
    task = Task.objects.create(user=user, title="mine")
    cookie = {"additional_headers": {"Cookie": session_cookie(user)}}
    port = stack.rsplit(":", 1)[1]
    token = Token.objects.create(user=user).key
    old = Token.objects.create(user=Task.objects.model._meta.get_field("user").related_model.objects.create_user(
        username="old", password="pw-old-123"))
    Token.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=31))

    async def scenario():
        return {
            "evil, all tasks": await refused_status(f"ws://{stack}/ws/tasks/", origin="http://evil.example", **cookie),
            "evil, one task": await refused_status(f"ws://{stack}/ws/tasks/{task.id}/", origin="http://evil.example",
                                                   **cookie),
            "look-alike": await refused_status(f"ws://{stack}/ws/tasks/", origin=f"http://127.0.0.1.evil.example:{port}",
                                               **cookie),
            "other port": await refused_status(f"ws://{stack}/ws/tasks/", origin="http://127.0.0.1:1", **cookie),
            "same origin": await first_message(f"ws://{stack}/ws/tasks/{task.id}/", origin=f"http://{stack}", **cookie),
            "trusted origin": await first_message(f"ws://{stack}/ws/tasks/", origin=TRUSTED, **cookie),
            "token, no origin": await first_message(f"ws://{stack}/ws/tasks/?token={token}"),
            "expired token": await close_code(f"ws://{stack}/ws/tasks/?token={old.key}"),
        }

    seen = asyncio.run(scenario())
    assert seen["evil, all tasks"] == seen["evil, one task"] == seen["look-alike"] == seen["other port"] == 403
    assert seen["same origin"] == {"type": "subscribed", "taskId": task.id, "lastSeq": 0}
    assert seen["trusted origin"]["type"] == seen["token, no origin"]["type"] == "subscribed"
    assert seen["expired token"] == 4401


def raw_get(host: str, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, timeout=TIMEOUT)
    try:
        connection.request("GET", path)  # sent as written: no client-side normalization of %2e
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_static_paths_that_climb_out_are_404_not_500(stack):
    for path in ["/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/static/..%2f..%2f..%2fetc/passwd",
                 "/static/%2e%2e/admin/css/base.css", "/static/a%00b.css"]:
        status, body = raw_get(stack, path)
        assert status == 404, (path, status)
        assert b"root:" not in body
    status, body = raw_get(stack, "/static/tasks_app/app.css")
    assert status == 200 and b".progress" in body


def http_json(host: str, method: str, path: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(host, timeout=TIMEOUT)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Token {token}"} if token else {})}
    try:
        connection.request(method, path, body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_limits_are_shared_between_processes(stack, user):
    token = Token.objects.create(user=user).key
    here = APIClient()
    here.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    body = {"title": "t", "agentType": "research", "agentConfig": {"count": 1}}
    assert here.post("/api/workspace/tasks", body, format="json").status_code == 201  # this process
    assert http_json(stack, "POST", "/api/workspace/tasks", body, token)[0] == 201  # daphne
    status, refused = http_json(stack, "POST", "/api/workspace/tasks", body, token)
    assert status == 429 and refused["error"]["code"] == "throttled"
    assert Task.objects.filter(user=user).count() == 2

    guess = {"username": "ada", "password": "wrong"}
    assert APIClient(REMOTE_ADDR="127.0.0.1").post("/api/auth/token", guess, format="json").status_code == 400
    assert [http_json(stack, "POST", "/api/auth/token", guess)[0] for _ in range(3)] == [400, 400, 429]


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.mark.browser
def test_chromium_runs_the_pages_admin_and_swagger_ui_under_the_csp_without_a_violation(stack, django_user_model):
    from playwright.sync_api import expect, sync_playwright

    from tools.browser_session import DEFAULT_EXECUTABLE
    from tools.config import setting

    staff = django_user_model.objects.create_user(username="root", password="pw-root-123", is_staff=True,
                                                  is_superuser=True)
    task = Task.objects.create(user=staff, title="Finished one", status="completed", total_steps=2, current_step=2,
                               attempts=1, result={"summary": "done"}, execution_trace={"steps": [{"step": 1}]})
    TaskExecution.objects.create(task=task, run=1, step=1, action="http.get", tool="http", output={"a": 1},
                                 status="completed", idempotency_key="k-live")
    base, violations = f"http://{stack}", []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=setting("AGENT_BROWSER_EXECUTABLE", DEFAULT_EXECUTABLE),
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{base}/login/")
            page.get_by_label("Username").fill("root")
            page.get_by_label("Password").fill("pw-root-123")
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
            page.goto(f"{base}/tasks/{task.id}/")
            expect(page.locator('[data-role="live"]').first).to_have_text("● live")  # the feed connects
            bar = page.locator("#progress .progress span")
            expect(bar).to_have_attribute("style", re.compile(r"width: 100%"))  # painted by the static JS
            page.goto(f"{base}/admin/tasks_app/task/{task.id}/change/")
            assert page.eval_on_selector("pre.json-block", "e => getComputedStyle(e).whiteSpace") == "pre-wrap"
            page.goto(f"{base}/api/docs/")
            expect(page.locator(".opblock").first).to_be_visible()  # Swagger UI rendered the schema
            assert page.eval_on_selector("body", "e => getComputedStyle(e).margin") == "0px"  # the nonced style
            assert violations == []
            # what an injected inline script would meet: refused, and reported where we looked
            with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
                page.evaluate("""() => { const s = document.createElement("script");
                                         s.textContent = "window.injected = true"; document.body.append(s); }""")
            assert page.evaluate("window.injected === undefined") is True
        finally:
            browser.close()
    assert len(violations) == 1 and "script-src" in violations[0]
