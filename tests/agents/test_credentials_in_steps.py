"""Stored credentials reach the tools that need them, refreshed tokens are kept, secrets stay out."""
from __future__ import annotations

import pytest

from agents.dispatch import INLINE
from tasks_app import credentials, services
from tasks_app.models import Credential, TaskEvent, TaskExecution
from tests.agents.helpers import run_inline_approving

pytestmark = pytest.mark.usefixtures("inline_engine")


def test_a_calendar_step_uses_the_users_google_account_and_keeps_the_refreshed_token(user, google_server,
                                                                                     loopback_allowed):
    expired = google_server.credentials(expired=True)
    credentials.store(user_id=user.id, provider="google", secret=expired)
    assert expired["token"] not in Credential.objects.get(user=user).ciphertext, "encrypted at rest"
    plan = {"steps": [{"action": "calendar.create", "params": {
        "summary": "Review", "start": "2030-03-01T10:00:00+00:00", "end": "2030-03-01T11:00:00+00:00"}}]}
    # calendar.create writes to Google, an outside system: its owner approves it (external-writes)
    task = run_inline_approving(services.task_create(user=user, title="book it", plan=plan), user, ["calendar.create"])
    assert task.status == "completed", task.error
    assert [event["summary"] for event in google_server.events["primary"].values()] == ["Review"]
    stored = credentials.load_all(user_id=user.id)["google"]
    assert stored["token"] != expired["token"], "the refreshed access token was stored"
    everything = f"{task.execution_trace} {list(TaskExecution.objects.values())} {list(TaskEvent.objects.values())}"
    assert expired["token"] not in everything and stored["token"] not in everything
    assert expired["refresh_token"] not in everything


def test_a_tool_that_needs_an_account_says_so_when_none_is_connected(user, google_server):
    plan = {"steps": [{"action": "calendar.list", "params": {}}]}
    task = services.task_create(user=user, title="list", plan=plan)
    services.task_execute(task=task)
    assert INLINE.wait_idle(timeout=30)
    task.refresh_from_db()
    assert task.status == "failed" and "needs a connected Google account" in task.error
