"""Credits through the API, the admin and the command: budgets on tasks, balance and usage from the ledger,
the ledger paged and owner-scoped, grants."""
from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from agents.dispatch import INLINE
from tasks_app import credits
from tasks_app.control_data import AuditEntry
from tasks_app.credit_ledger import CreditEntry
from tasks_app.models import Task
from tests.agents.helpers import seed_hn_plan

from .conftest import research_task

HN_COSTS = [5, 20, 100, 10]


def idle() -> None:
    assert INLINE.wait_idle(timeout=60)


@pytest.mark.usefixtures("inline_engine")
def test_a_budget_set_on_create_pauses_the_run_and_a_patch_lets_it_finish(api, hn_server):
    created = api.post("/api/workspace/tasks", {"title": "Daily HN Summary", "plan": seed_hn_plan(hn_server.url),
                                               "creditBudget": 30}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["creditBudget"], body["pauseReason"]) == (30, None)
    assert (body["estimatedCredits"], body["estimatedDuration"]) == (500, 30_000), "shown before it runs"
    task_id = body["id"]

    assert api.post(f"/api/agent/execute/{task_id}", {"async": True}, format="json").status_code == 202
    idle()
    status = api.get(f"/api/agent/status/{task_id}").json()
    assert (status["status"], status["pauseReason"], status["creditsUsed"]) == ("paused", "credit_limit", 25)
    planned = Task.objects.get(id=task_id)
    assert (status["creditBudget"], status["currentStep"]) == (30, 2)
    assert status["estimatedCredits"] == planned.plan["estimatedCredits"] + planned.plan_credits  # as planned
    assert api.get(f"/api/workspace/tasks/{task_id}").json()["pauseReason"] == "credit_limit"

    patched = api.patch(f"/api/workspace/tasks/{task_id}", {"creditBudget": 200}, format="json")
    assert patched.status_code == 200 and patched.json()["creditBudget"] == 200, patched.content
    assert api.post(f"/api/agent/{task_id}/resume").status_code == 200
    idle()
    status = api.get(f"/api/agent/status/{task_id}").json()
    assert (status["status"], status["pauseReason"], status["creditsUsed"]) == ("completed", None, sum(HN_COSTS))

    ledger = api.get("/api/credits/ledger", {"taskId": task_id}).json()
    assert ledger["count"] == 4
    assert [(e["step"], e["reason"], e["amount"], e["action"]) for e in reversed(ledger["results"])] == [
        (1, "tool", -5, "http.get"), (2, "tool", -20, "http.getBatch"), (3, "tool", -100, "ai.summarize"),
        (4, "tool", -10, "email.send")]
    assert -sum(e["amount"] for e in ledger["results"]) == status["creditsUsed"]
    summary = api.get("/api/credits").json()
    assert summary["balance"] == 10_000 - sum(HN_COSTS) and summary["granted"] == 10_000
    assert summary["usage"]["last24h"] == {"total": sum(HN_COSTS), "byAgentType": {"custom": sum(HN_COSTS)}}


@pytest.mark.usefixtures("inline_engine")
def test_usage_counts_every_run_from_the_ledger_and_the_dashboard_agrees(api, user, hn_server):
    task_id = api.post("/api/workspace/tasks", research_task(), format="json").json()["id"]
    for _ in range(2):  # two runs of one task: both count (the latest run alone used to)
        assert api.post(f"/api/agent/execute/{task_id}", {"async": True}, format="json").status_code == 202
        idle()
    run_cost = 100 + sum(HN_COSTS)
    assert Task.objects.get(id=task_id).total_credits == run_cost
    old = CreditEntry.objects.filter(task_ref=task_id, run=1, step=1).get()
    CreditEntry.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(days=10))
    legacy = Task.objects.create(user=user, title="before the ledger", status="completed", attempts=1,
                                 total_credits=130, last_run_at=timezone.now())

    usage = api.get("/api/credits").json()["usage"]
    assert usage["last24h"] == {"total": 2 * run_cost - 5, "byAgentType": {"research": 2 * run_cost - 5}}
    assert usage["last7d"]["total"] == 2 * run_cost - 5 and usage["last30d"]["total"] == 2 * run_cost
    metrics = api.get("/api/agent/metrics").json()
    assert metrics["creditsUsed"] == {"last24h": 2 * run_cost - 5 + 130, "last7d": 2 * run_cost - 5 + 130,
                                      "last30d": 2 * run_cost + 130}, f"{legacy.id} counts its last run"


def test_another_users_ledger_is_invisible(api, user, intruder_api):
    credits.credits_grant(user=user, amount=250, note="for ada")
    mine = api.get("/api/credits/ledger").json()
    assert [(e["reason"], e["amount"]) for e in mine["results"]] == [("grant", 250), ("signup", 10_000)]
    theirs = intruder_api.get("/api/credits/ledger").json()
    assert theirs["count"] == 1 and theirs["results"][0]["reason"] == "signup"
    assert intruder_api.get("/api/credits").json()["balance"] == 10_000
    assert api.get("/api/credits").json()["balance"] == 10_250


def test_the_ledger_is_paged_and_filtered(api, user):
    for n in range(25):
        credits.credits_grant(user=user, amount=n + 1)
    first = api.get("/api/credits/ledger", {"pageSize": 10}).json()
    assert first["count"] == 26 and len(first["results"]) == 10 and first["next"]
    grants = api.get("/api/credits/ledger", {"reason": "grant", "pageSize": 100}).json()
    assert grants["count"] == 25 and grants["results"][0]["amount"] == 25
    refused = api.get("/api/credits/ledger", {"reason": "bonus"})
    assert refused.status_code == 400 and "reason" in refused.json()["error"]["fields"]
    nul = api.get("/api/credits/ledger", {"taskId": "c0\x00"})
    assert nul.status_code == 400 and "taskId" in nul.json()["error"]["fields"]


@pytest.mark.parametrize("budget", [-5, "lots", 2_000_000_000])
def test_a_bad_budget_is_refused_naming_the_field(api, budget):
    answer = api.post("/api/workspace/tasks", {**research_task(), "creditBudget": budget}, format="json")
    assert answer.status_code == 400 and "creditBudget" in answer.json()["error"]["fields"], answer.content
    assert not Task.objects.exists()


def test_a_budget_can_be_removed(api):
    task_id = api.post("/api/workspace/tasks", {**research_task(), "creditBudget": 50}, format="json").json()["id"]
    answer = api.patch(f"/api/workspace/tasks/{task_id}", {"creditBudget": None}, format="json")
    assert answer.status_code == 200 and answer.json()["creditBudget"] is None


def test_grant_credits_command_adds_a_ledger_row_and_refuses_bad_input(user):
    out = StringIO()
    call_command("grant_credits", "ada", "750", "--note", "pilot", stdout=out)
    entry = CreditEntry.objects.get(user=user, reason="grant")
    assert (entry.amount, entry.note) == (750, "pilot")
    audit = AuditEntry.objects.get(verb="credits.granted")
    assert (audit.owner_id, audit.actor_kind, audit.details["amount"]) == (user.id, "command", 750)
    call_command("grant_credits", "ada@example.com", "5")  # by email too
    assert CreditEntry.objects.filter(user=user, reason="grant").count() == 2
    for args, message in [(("nobody", "5"), "no user 'nobody'"), (("ada", "ten"), "whole number"),
                          (("ada", "0"), "from 1 to")]:
        with pytest.raises(CommandError, match=message):
            call_command("grant_credits", *args)
    assert CreditEntry.objects.filter(user=user, reason="grant").count() == 2


def test_the_admin_grants_credits_and_never_edits_the_ledger(admin_client, admin_user, user):
    add = "/admin/tasks_app/creditentry/add/"
    refused = admin_client.post(add, {"user": user.id, "amount": 0, "note": "nothing"})
    assert refused.status_code == 200 and "a grant is 1 to" in refused.content.decode()
    done = admin_client.post(add, {"user": user.id, "amount": 300, "note": "support ticket 42"}, follow=True)
    assert done.status_code == 200
    entry = CreditEntry.objects.get(user=user, reason="grant")
    assert (entry.amount, entry.note, entry.granted_by) == (300, "support ticket 42", admin_user)
    page = admin_client.get(f"/admin/tasks_app/creditentry/{entry.id}/change/")
    assert page.status_code == 200 and "support ticket 42" in page.content.decode()
    assert admin_client.post(f"/admin/tasks_app/creditentry/{entry.id}/delete/", {"post": "yes"}).status_code == 403
    assert CreditEntry.objects.filter(id=entry.id).exists()
    assert AuditEntry.objects.get(verb="credits.granted").actor_kind == "admin"
