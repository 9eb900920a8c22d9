"""Secrets stay secret: planted in tool inputs, outputs, errors and configuration, then searched for in
every stored row of every table, every event, log line, webhook body, email, page and API answer."""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.apps import apps

from agents.dispatch import INLINE
from tasks_app import credentials, services, webhooks
from tasks_app.models import Approval, Task, WebhookDelivery
from tests.fakes.anthropic_server import FakeAnthropic, reply_text, reply_tool_use
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.tasks_app.api.conftest import client_for

from .helpers import run_inline, wait_for

pytestmark = pytest.mark.usefixtures("inline_engine", "loopback_allowed")

API_KEY = "sk-ant-planted-api-key-7Q2mX9vL"
SMTP_PASSWORD = "planted-smtp-password-Hq81"
AUTH_HEADER = "planted-bearer-token-Zt5Wk0"


class Echo:
    """An outside API that misbehaves: it echoes the request's headers and the secrets it was told,
    in its answers and in its errors (what a leaky service does)."""

    def __init__(self, told: list[str]):
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body: bytes = b"") -> None:
                payload = json.dumps({"path": self.path, "headers": dict(self.headers.items()),
                                      "got": body.decode(errors="replace"), "told": echo.told}).encode()
                self.send_response(500 if self.path.startswith("/fail") else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.told = told
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def planted(settings, user, google_server, smtp_sink) -> Iterator[dict[str, Any]]:
    """The secrets, in configuration (API key, SMTP password), stored credentials (OAuth) and a webhook."""
    settings.ANTHROPIC_API_KEY, settings.EMAIL_HOST_PASSWORD = API_KEY, SMTP_PASSWORD
    google = google_server.credentials()
    credentials.store(user_id=user.id, provider="google", secret=google)
    with WebhookReceiver() as receiver, FakeAnthropic(api_key=API_KEY) as model:
        settings.ANTHROPIC_BASE_URL, settings.AGENT_LLM_PROVIDER = model.url, "anthropic"
        _, webhook_secret = webhooks.webhook_register(user=user, url=f"{receiver.url}/hook",
                                                      events=["completed", "failed", "approval_needed", "step"])
        secrets = {"API key": API_KEY, "OAuth access token": google["token"],
                   "OAuth refresh token": google["refresh_token"], "SMTP password": SMTP_PASSWORD,
                   "Authorization header": AUTH_HEADER, "webhook secret": webhook_secret}
        echo = Echo(list(secrets.values()))
        try:
            yield {"secrets": secrets, "echo": echo, "receiver": receiver, "model": model}
        finally:
            echo.server.shutdown()


def approve_all(task: Task, user) -> Task:
    while task.status == "awaiting_approval":
        services.approval_decide(approval=Approval.objects.get(task=task, status="pending"), approve=True, user=user)
        assert INLINE.wait_idle(timeout=60)
        task.refresh_from_db()
    return task


def touching_plan(echo: Echo, webhook_secret: str) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {AUTH_HEADER}"}
    return {"steps": [
        {"action": "http.get", "params": {"url": f"{echo.url}/echo", "headers": auth}},
        {"action": "http.post", "params": {"url": f"{echo.url}/orders", "headers": auth,
                                           "body": {"webhookSecret": webhook_secret, "qty": 1}}},
        {"action": "calendar.create", "params": {"summary": "Review", "start": "2030-03-01T10:00:00+00:00",
                                                 "end": "2030-03-01T11:00:00+00:00"}},
        {"action": "email.send", "params": {"to": "team@example.com", "subject": "Done",
                                            "body": "Echoed: {step1.result}"}},
        {"action": "http.get", "params": {"url": f"{echo.url}/fail", "headers": auth}},
    ]}


def every_row() -> str:
    """Every stored row of every table, as text."""
    return "\n".join(json.dumps(list(model.objects.all().values()), default=str)
                     for model in apps.get_models())


def api_answers(user, task_ids: list[str]) -> str:
    api = client_for(user)
    paths = ["/api/approvals?status=all", "/api/audit", "/api/webhooks", "/api/credits/ledger",
             "/api/workspace/tasks", "/api/agent/metrics", "/api/credentials"]
    for task_id in task_ids:
        paths += [f"/api/workspace/tasks/{task_id}", f"/api/agent/status/{task_id}", f"/api/agent/{task_id}/trace",
                  f"/api/workspace/tasks/{task_id}/executions", f"/api/agent/{task_id}/events",
                  f"/api/agent/{task_id}/approvals"]
    paths += [f"/api/webhooks/{w['id']}/deliveries" for w in api.get("/api/webhooks").json()]
    return "\n".join(api.get(path).content.decode() for path in paths)


def pages(client, user, task_ids: list[str]) -> str:
    client.force_login(user)
    return "\n".join(client.get(path).content.decode()
                     for path in ["/", "/approvals/?status=all", *[f"/tasks/{t}/" for t in task_ids]])


def test_planted_secrets_are_found_nowhere(planted, user, client, smtp_sink, google_server, caplog):
    caplog.set_level(logging.INFO)
    secrets, echo, model = planted["secrets"], planted["echo"], planted["model"]
    planned = approve_all(run_inline(services.task_create(
        user=user, title="Touch every secret", plan=touching_plan(echo, secrets["webhook secret"]),
        agent_config={"replan": False})), user)
    assert planned.status == "failed" and "step 5 (http.get) failed" in planned.error, planned.error
    assert [e["summary"] for e in google_server.events["primary"].values()] == ["Review"], "the OAuth token worked"
    assert Task.objects.get(id=planned.id).plan["steps"][0]["params"]["headers"]["Authorization"].keys() == {
        "$sealed"}, "the plan keeps the header sealed at rest"
    model.enqueue(
        reply_tool_use("http__get", {"url": f"{echo.url}/echo", "headers": {"Authorization": f"Bearer {AUTH_HEADER}"}},
                       text=f"Calling with my key {API_KEY}."),
        reply_text(f"Done. For the record the key is {API_KEY} and the token {secrets['OAuth access token']}."))
    free = run_inline(services.task_create(user=user, title="Echo", agent_config={"planning": "react"}))
    assert free.status == "completed", free.error
    deliveries = WebhookDelivery.objects.all()
    wait_for(lambda: deliveries.count() > 0 and not deliveries.exclude(status="delivered").exists(), timeout=30,
             what="every webhook delivery to land")  # the embedded beat sends them
    webhooks_sent = "\n".join(r.body.decode() for r in planted["receiver"].received)
    assert len(planted["receiver"].received) == deliveries.count()
    places = {
        "stored rows": every_row(), "log lines": caplog.text, "webhook bodies": webhooks_sent,
        "emails": "\n".join(m.as_string() for m in smtp_sink.messages),
        "API answers": api_answers(user, [planned.id, free.id]), "pages": pages(client, user, [planned.id, free.id]),
    }
    found = [f"{name} in {where}" for name, secret in secrets.items() for where, text in places.items()
             if secret in text]
    assert found == []
    # and the searches searched: the echo's answers did reach the engine (masked)
    assert "[redacted]" in places["stored rows"] and echo.url in places["stored rows"]
