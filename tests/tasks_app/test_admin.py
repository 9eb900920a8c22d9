"""The admin: lists and filters tasks, shows the trace, and its actions go through the services."""
from __future__ import annotations

import pytest

from agents.dispatch import INLINE
from tasks_app import lifecycle
from tasks_app.models import Task, TaskEvent

CHANGELIST = "/admin/tasks_app/task/"


@pytest.fixture
def finished(user):
    return Task.objects.create(user=user, title="done one", status="completed", agent_type="research",
                               agent_config={"count": 1, "email": False},
                               execution_trace={"taskId": "x", "steps": [{"step": 1, "reasoning": "fetch <top>"}]})


def act(admin_client, action, *tasks) -> str:
    """Run an admin action; the messages it shows, joined."""
    page = admin_client.post(CHANGELIST, {"action": action, "_selected_action": [t.id for t in tasks]}, follow=True)
    assert page.status_code == 200
    return " | ".join(str(m) for m in page.context["messages"])


@pytest.mark.django_db
def test_changelist_filters_search_and_pretty_trace(admin_client, finished, user):
    Task.objects.create(user=user, title="waiting one")
    page = admin_client.get(CHANGELIST, {"status__exact": "completed", "q": "done"})
    assert page.status_code == 200 and b"done one" in page.content and b"waiting one" not in page.content
    for other in ({"agent_type": "research"}, {"priority__exact": "medium"}, {"user__id__exact": user.id}):
        assert admin_client.get(CHANGELIST, other).status_code == 200
    change = admin_client.get(f"{CHANGELIST}{finished.id}/change/")
    assert change.status_code == 200
    assert b"&quot;reasoning&quot;: &quot;fetch &lt;top&gt;&quot;" in change.content  # pretty, escaped JSON
    assert b'name="status"' not in change.content  # status is read-only


@pytest.mark.django_db
def test_saving_the_form_never_writes_back_a_stale_status(admin_client, user):
    task = Task.objects.create(user=user, title="old", status="pending")
    form = admin_client.get(f"{CHANGELIST}{task.id}/change/")
    assert form.status_code == 200
    lifecycle.require("start", task_id=task.id)  # a run starts while the form is open
    saved = admin_client.post(f"{CHANGELIST}{task.id}/change/", {
        "title": "new", "description": "", "priority": "high", "tags": "[]", "due_date_0": "", "due_date_1": "",
        "project": "", "executions-TOTAL_FORMS": "0", "executions-INITIAL_FORMS": "0",
    })
    assert saved.status_code == 302, saved.content[:3000]
    task.refresh_from_db()
    assert (task.title, task.priority, task.status) == ("new", "high", "planning")


@pytest.mark.django_db(transaction=True)
def test_pause_resume_cancel_actions_use_the_state_machine(admin_client, user, finished):
    running = Task.objects.create(user=user, title="running", status="executing")
    assert act(admin_client, "pause", running) == "paused: 1 task(s)"
    running.refresh_from_db()
    assert running.status == "paused"
    assert TaskEvent.objects.filter(task=running, payload__transition="pause").exists()
    shown = act(admin_client, "resume", finished)
    assert "cannot resume task" in shown and "it is completed" in shown
    act(admin_client, "cancel", running)
    running.refresh_from_db()
    assert running.status == "cancelled"


def test_retry_and_replay_actions_run_the_task_again(admin_client, user, finished, inline_engine, hn_server):
    act(admin_client, "retry", finished)
    assert INLINE.wait_idle(timeout=30)
    finished.refresh_from_db()
    assert finished.status == "completed" and finished.attempts == 1 and finished.result["storiesProcessed"] == 1
    act(admin_client, "replay", finished)
    assert INLINE.wait_idle(timeout=30)
    replay = Task.objects.exclude(id=finished.id).get()
    assert replay.status == "completed" and f"replay-of:{finished.id}" in replay.tags
    busy = Task.objects.create(user=user, title="p", status="executing")
    assert "cannot start task" in act(admin_client, "retry", busy)


@pytest.mark.django_db
def test_other_models_are_registered(admin_client):
    for name in ("agentmetrics", "project", "taskevent"):
        assert admin_client.get(f"/admin/tasks_app/{name}/").status_code == 200
