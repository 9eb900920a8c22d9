"""Rolling back a finished run: its event deleted, its row removed, its email reported as sent."""
from __future__ import annotations

import psycopg
import pytest

from tasks_app import credentials, services
from tasks_app.models import Task, TaskEvent, TaskExecution
from tests.fakes.scratch_db import scratch_database
from tests.tasks_app.api.conftest import client_for

from .helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")

PLAN = {"steps": [
    {"action": "calendar.create", "description": "Book the launch review",
     "params": {"summary": "Launch review", "start": "2030-03-01T10:00:00+00:00", "end": "2030-03-01T11:00:00+00:00"}},
    {"action": "database.execute", "description": "Note it in the CRM",
     "params": {"connection": "crm", "table": "notes", "values": {"body": "launch review booked"}}},
    {"action": "email.send", "description": "Tell the team",
     "params": {"to": ["team@example.com"], "subject": "Launch review booked", "body": "1 March, 10:00"}},
]}


@pytest.fixture
def crm(settings):
    """A scratch PostgreSQL database the database tool may write to, as `crm`."""
    with scratch_database("xantuus_rb_crm", "CREATE TABLE notes (id serial PRIMARY KEY, body text)") as url:
        settings.AGENT_DATABASES = {"crm": url}
        yield url


@pytest.fixture
def finished(user, google_server, crm, smtp_sink, loopback_allowed):
    credentials.store(user_id=user.id, provider="google", secret=google_server.credentials())
    task = run_inline(services.task_create(user=user, title="Book the launch review", plan=PLAN))
    assert task.status == "completed", task.error
    assert len(smtp_sink.wait_for(1)) == 1
    return task


def notes(crm):
    with psycopg.connect(crm) as conn:
        return [row[0] for row in conn.execute("SELECT body FROM notes")]


def live_events(google_server):
    return [e["summary"] for e in google_server.events.get("primary", {}).values() if e["status"] != "cancelled"]


def test_rollback_undoes_the_event_and_the_row_newest_first_and_reports_the_email(finished, user, google_server,
                                                                                  crm, smtp_sink):
    api = client_for(user)
    answer = api.post(f"/api/agent/{finished.id}/rollback", {}, format="json")
    assert answer.status_code == 200, answer.content
    report = answer.json()
    assert [(c["step"], c["undo"], c["status"]) for c in report["compensations"]] == [
        (2, "database.rollback", "undone"), (1, "calendar.delete", "undone")]
    assert live_events(google_server) == [] and notes(crm) == []
    [warning] = report["cannotBeUndone"]
    assert warning["step"] == 3 and "team@example.com was sent" in warning["reason"]
    assert len(smtp_sink.messages) == 1, "nothing was sent again"
    assert report["summary"] == "2 change(s) undone; 1 cannot be undone"
    trace = api.get(f"/api/agent/{finished.id}/trace").json()
    assert trace["rollback"]["undone"] == 2 and len(trace["steps"]) == 3
    assert credentials.load_all(user_id=user.id)["google"]["token"] not in answer.content.decode()


def test_a_second_rollback_runs_no_compensation_twice(finished, google_server, crm):
    first = services.task_rollback(task=finished)
    deletes = [r for r in google_server.requests if r.method == "DELETE"]
    with psycopg.connect(crm, autocommit=True) as conn:
        conn.execute("INSERT INTO notes (id, body) VALUES (1, 'written again by a person')")
    second = services.task_rollback(task=finished)
    assert first["undone"] == 2 and second["undone"] == 0
    assert [c["status"] for c in second["compensations"]] == ["alreadyUndone", "alreadyUndone"]
    assert [r for r in google_server.requests if r.method == "DELETE"] == deletes
    assert notes(crm) == ["written again by a person"], "the row with the same key was left alone"
    assert TaskEvent.objects.filter(task=finished, type="rollback_step").count() == 2


def test_a_dry_run_lists_what_would_be_undone_and_changes_nothing(finished, user, google_server, crm):
    answer = client_for(user).post(f"/api/agent/{finished.id}/rollback", {"dryRun": True}, format="json")
    assert answer.status_code == 200, answer.content
    report = answer.json()
    assert report["dryRun"] is True
    assert [(c["action"], c["status"]) for c in report["compensations"]] == [
        ("database.execute", "wouldUndo"), ("calendar.create", "wouldUndo")]
    assert report["cannotBeUndone"][0]["action"] == "email.send"
    assert live_events(google_server) == ["Launch review"] and notes(crm) == ["launch review booked"]
    assert not TaskEvent.objects.filter(task=finished, type__startswith="rollback").exists()
    assert services.task_rollback(task=finished)["undone"] == 2, "the dry run did not use up the undo"


def test_a_write_without_compensation_is_listed_for_a_person_and_reads_are_left_out(user):
    task = Task.objects.create(user=user, title="posted", status="failed", attempts=1)
    for step, action, side_effect in [(1, "http.get", "read"), (2, "http.post", "write")]:
        TaskExecution.objects.create(task=task, run=1, step=step, action=action, tool="http", status="completed",
                                     side_effect=side_effect, output={"status": 200}, idempotency_key=f"k{step}")
    report = services.task_rollback(task=task)
    assert report["compensations"] == [] and report["cannotBeUndone"] == []
    assert [(w["step"], w["action"]) for w in report["notUndoableAutomatically"]] == [(2, "http.post")]
    assert report["summary"] == "1 must be undone by hand"


def test_a_task_that_is_not_finished_is_refused_with_409(user):
    api = client_for(user)
    for status in ("executing", "pending", "paused"):
        task = Task.objects.create(user=user, title=status, status=status)
        answer = api.post(f"/api/agent/{task.id}/rollback", {}, format="json")
        assert answer.status_code == 409, (status, answer.content)
        assert answer.json()["error"]["code"] == "conflict" and f"while it is {status}" in answer.json()["error"][
            "message"]


def test_the_admin_action_rolls_back_and_shows_the_summary(admin_client, finished, user, google_server, crm):
    running = Task.objects.create(user=user, title="busy", status="executing")
    page = admin_client.post("/admin/tasks_app/task/", {"action": "rollback",
                                                       "_selected_action": [finished.id, running.id]}, follow=True)
    shown = " | ".join(str(m) for m in page.context["messages"])
    assert "Book the launch review: 2 change(s) undone; 1 cannot be undone" in shown
    assert f"cannot roll back task {running.id} while it is executing" in shown
    assert live_events(google_server) == [] and notes(crm) == []


def test_the_task_page_offers_roll_back_once_the_run_finished(client, user):
    client.force_login(user)
    for status, shown in (("completed", True), ("executing", False)):
        task = Task.objects.create(user=user, title=status, status=status)
        page = client.get(f"/tasks/{task.id}/").content.decode()
        button = page[page.index('data-action="rollback"'):].split(">", 1)[0]
        assert ("hidden" not in button) is shown, (status, button)
