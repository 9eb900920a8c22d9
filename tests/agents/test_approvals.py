"""Approvals on the embedded runner: bound to the exact call, edited, rejected with a reason, run-wide
recipients, checkpoints, the agent's own questions, expiry, and the policies' facts."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from agents import orchestrator, policies
from agents.dispatch import INLINE
from tasks_app import services
from tasks_app.models import Approval, ApprovalPolicy, Task, TaskExecution
from tasks_app.selectors import task_trace
from tests.fakes.anthropic_server import reply_tool_use
from tests.fakes.webhook_receiver import WebhookReceiver

from .helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")


def decide(approval: Approval, user, **decision) -> Task:
    services.approval_decide(approval=approval, user=user, **decision)
    assert INLINE.wait_idle(timeout=60)
    return Task.objects.get(id=approval.task_id)


def pending(task: Task) -> Approval:
    return Approval.objects.get(task=task, status="pending")


def sent(smtp_sink) -> list[list[str]]:
    """The envelope recipients of each message a run sent (the owner's notifications left out)."""
    return [e.rcpt_tos for e, m in zip(smtp_sink.envelopes, smtp_sink.messages, strict=True)
            if not m["X-Xantuus-Notification"]]


def post_plan(url: str, body: dict) -> dict:
    return {"steps": [{"action": "http.post", "params": {"url": f"{url}/orders", "body": body}}]}


# --- the policies' facts -------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "params", "state", "expected"), [
    ("http.post", {"url": "https://api.example.com/x"}, {}, ["external-writes"]),
    ("http.get", {"url": "https://api.example.com/x"}, {}, []),
    ("calendar.create", {"summary": "x"}, {}, ["external-writes"]),
    ("calendar.delete", {"event_id": "e1"}, {}, ["data-deletion", "external-writes"]),
    ("drive.upload", {"name": "a.txt", "text": "hi"}, {}, ["external-writes"]),
    ("database.execute", {"connection": "crm", "table": "t", "values": {"a": 1}}, {}, []),
    ("database.delete", {"connection": "crm", "table": "t", "where": "id = 1"}, {}, ["data-deletion"]),
    ("browser.submit", {"selector": "form"}, {"browser": {"url": "https://shop.example.com/cart"}},
     ["external-writes"]),
    ("browser.fill", {"selector": "#q", "value": "x"}, {"browser": {"url": "https://shop.example.com/"}},
     ["external-writes"]),
    ("data.write", {"rows": [], "target": "crm"}, {}, []),
    ("research.report", {"title": "t", "research": {}}, {}, []),
    ("email.send", {"to": ["a@example.com"], "subject": "s", "body": "b"}, {}, []),
    ("email.send", {"to": [f"r{n}@example.com" for n in range(11)], "subject": "s", "body": "b"}, {},
     ["mass-email"]),
    ("campaign.send", {"recipients": [{"email": f"r{n}@example.com"} for n in range(11)]}, {}, ["mass-email"]),
    ("payment.charge", {"amount": 5}, {}, ["payments"]),
])
def test_policies_match_the_side_effect_and_facts_about_the_input(action, params, state, expected, settings):
    facts = policies.facts_of(action, params, state)
    found = policies.matches(settings.AGENT_APPROVAL_POLICIES, facts, lambda: list(facts.recipients))
    assert sorted(m.name for m in found) == expected
    assert all(m.why for m in found)


def test_a_trusted_host_is_not_outside_and_an_override_can_gate_a_database(user, settings):
    settings.AGENT_WRITE_TRUSTED_HOSTS = ["api.example.com"]
    facts = policies.facts_of("http.post", {"url": "https://API.example.com/x"})
    assert not facts.outside and policies.cannot_be_undone(facts) is None
    rule = {"side_effects": ["write"], "outside": True, "reason": "my databases are precious"}
    ApprovalPolicy.objects.create(user=user, name="external-writes", rule=rule)
    db = policies.facts_of("database.execute", {"connection": "crm", "table": "t", "values": {}})
    assert [m.name for m in policies.matches(policies.rules_for(user.id), db, list)] == ["external-writes"]
    ApprovalPolicy.objects.create(user=user, name="mass-email", enabled=False)
    assert "mass-email" not in [r["name"] for r in policies.rules_for(user.id)]
    assert policies.check_rule({"name": "x", "reason": "y"}) == [
        "a rule needs at least one condition: actions, deletion, min_recipients, outside, side_effects"]
    assert "side_effects: unknown class 'delete'" in policies.check_rule({"side_effects": ["delete"]})[0]


# --- bound to the exact call ---------------------------------------------------------------------


def test_an_outside_write_waits_and_runs_exactly_the_approved_input_once(user, loopback_allowed):
    with WebhookReceiver() as shop:
        task = run_inline(services.task_create(user=user, title="order", plan=post_plan(shop.url, {"qty": 2})))
        approval = pending(task)
        assert task.status == "awaiting_approval" and shop.received == []
        assert (approval.policy, approval.action, approval.irreversible) == ("external-writes", "http.post", True)
        assert approval.input == {"url": f"{shop.url}/orders", "body": {"qty": 2}}
        assert "127.0.0.1, which is not trusted" in approval.why and "cannot be undone" in approval.question
        assert len(approval.input_hash) == 64 and approval.expires_at > timezone.now() + timedelta(days=6)
        task = decide(approval, user, approve=True)
        assert task.status == "completed", task.error
        assert [json.loads(r.body) for r in shop.received] == [{"qty": 2}]


def test_an_approval_of_one_input_does_not_let_another_through(user, loopback_allowed):
    with WebhookReceiver() as shop:
        task = run_inline(services.task_create(user=user, title="order", plan=post_plan(shop.url, {"qty": 2})))
        first = pending(task)
        Task.objects.filter(id=task.id).update(plan=post_plan(shop.url, {"qty": 200}))  # the call changed
        task = decide(first, user, approve=True)
        assert task.status == "awaiting_approval" and shop.received == [], "the approved call is not this one"
        second = pending(task)
        assert second.id != first.id and second.input["body"] == {"qty": 200}
        first.refresh_from_db()
        assert first.status == "approved" and first.input["body"] == {"qty": 2}, "the decision stays on record"
        decide(second, user, approve=True)
        assert [json.loads(r.body) for r in shop.received] == [{"qty": 200}]


def test_an_edited_input_is_validated_rechecked_and_is_what_runs(user, smtp_sink):
    everyone = [f"reader{n}@example.com" for n in range(11)]
    plan = {"steps": [{"action": "email.send", "params": {"to": everyone, "subject": "News", "body": "Hi"}}]}
    task = run_inline(services.task_create(user=user, title="newsletter", plan=plan))
    approval = pending(task)
    assert approval.recipients == everyone and "Recipients (11)" in approval.question
    with pytest.raises(services.InvalidTask, match=r"invalid input for email\.send: subject") as bad:
        services.approval_decide(approval=approval, approve=True, user=user, input={"to": everyone[:10]})
    assert bad.value.field == "input" and pending(task).status == "pending", "a bad edit decides nothing"
    edit = {"to": everyone[1:], "subject": "News", "body": "Hi"}
    task = decide(approval, user, approve=True, input=edit)
    assert task.status == "completed", task.error
    assert sent(smtp_sink) == [everyone[1:]], "exactly the ten kept recipients received it"
    approval.refresh_from_db()
    assert approval.input["to"] == everyone and approval.edited_input["to"] == everyone[1:]
    assert approval.edited_policies == [], "ten recipients match no policy any more"
    assert TaskExecution.objects.get(task=task, step=1).input["to"] == everyone[1:]


def test_a_rejection_cancels_a_plan_driven_run_with_the_reason_in_its_trace(user, loopback_allowed):
    with WebhookReceiver() as shop:
        task = run_inline(services.task_create(user=user, title="order", plan=post_plan(shop.url, {"qty": 2})))
        task = decide(pending(task), user, approve=False, reason="we do not order from them any more")
        assert task.status == "cancelled" and shop.received == []
        assert task.error == ("cancelled: approval of step 1 was rejected by ada: we do not order from them any "
                              "more")
        [entry] = task_trace(task)["steps"]
        assert (entry["status"], entry["reason"], entry["decidedBy"]) == (
            "rejected", "we do not order from them any more", "ada")


def test_a_plan_of_eleven_one_recipient_sends_asks_once_and_skips_a_removed_recipient(user, smtp_sink):
    readers = [f"reader{n}@example.com" for n in range(11)]
    plan = {"steps": [{"action": "email.send", "params": {"to": r, "subject": "News", "body": "Hi"}}
                      for r in readers]}
    task = run_inline(services.task_create(user=user, title="one by one", plan=plan))
    approval = pending(task)
    assert (approval.step, approval.scope, approval.recipients) == (1, "run", readers)
    assert approval.covers == list(range(1, 12)) and "steps 1, 2, 3" in approval.question
    assert sent(smtp_sink) == [], "it asks before the first send"
    task = decide(approval, user, approve=True, input={"recipients": readers[:5] + readers[6:]})
    assert task.status == "completed", task.error
    assert Approval.objects.filter(task=task).count() == 1, "asked once for the whole run"
    assert sent(smtp_sink) == [[r] for r in readers if r != readers[5]]
    skipped = TaskExecution.objects.get(task=task, step=6)
    assert skipped.output["skipped"] is True and readers[5] in skipped.output["because"]


def test_ten_one_recipient_sends_need_no_approval(user, smtp_sink):
    plan = {"steps": [{"action": "email.send", "params": {"to": f"r{n}@example.com", "subject": "s", "body": "b"}}
                      for n in range(10)]}
    task = run_inline(services.task_create(user=user, title="ten", plan=plan))
    assert task.status == "completed" and len(sent(smtp_sink)) == 10 and not Approval.objects.exists()


def test_a_plan_step_may_require_approval(user, loopback_allowed):
    plan = {"steps": [{"action": "http.get", "params": {"url": "http://127.0.0.1:1/never"},
                       "requiresApproval": True, "description": "check with me first"}]}
    task = run_inline(services.task_create(user=user, title="checkpoint", plan=plan))
    approval = pending(task)
    assert (approval.policy, approval.action, approval.irreversible) == ("checkpoint", "http.get", False)
    assert "requiresApproval" in approval.why
    task = decide(approval, user, approve=False)
    assert task.status == "cancelled"


def test_an_unanswered_approval_expires_and_cancels_its_task(user, loopback_allowed, settings):
    with WebhookReceiver() as shop:
        task = run_inline(services.task_create(user=user, title="order", plan=post_plan(shop.url, {"qty": 2})))
        Approval.objects.filter(task=task).update(expires_at=timezone.now() - timedelta(seconds=1))
        orchestrator.sweep()
        task.refresh_from_db()
        assert task.status == "cancelled" and "expired after 168 h without a decision" in task.error
        assert Approval.objects.get(task=task).status == "expired"
        with pytest.raises(services.InvalidTask, match="already decided"):
            services.approval_decide(approval=Approval.objects.get(task=task), approve=True, user=user)
        assert shop.received == []


# --- model-driven runs ---------------------------------------------------------------------------

REACT = {"planning": "react"}


def test_the_agent_asks_a_person_and_reads_the_answer(user, fake_anthropic):
    fake_anthropic.enqueue(
        reply_tool_use("ask_person", {"question": "Which list?", "choices": ["staff", "customers"]},
                       text="I need to know the audience."),
        reply_tool_use("finish", {"goalMet": True, "result": "Will write to staff."}))
    task = run_inline(services.task_create(user=user, title="write to a list", agent_config=REACT))
    question = pending(task)
    assert (task.status, question.kind, question.question, question.choices) == (
        "awaiting_approval", "question", "Which list?", ["staff", "customers"])
    with pytest.raises(services.InvalidTask, match="answer must be one of: staff, customers"):
        services.approval_decide(approval=question, approve=True, user=user, answer="everyone")
    task = decide(question, user, approve=True, answer="staff")
    assert task.status == "completed", task.error
    row = TaskExecution.objects.get(task=task, step=1)
    assert (row.action, row.output["answer"], row.output["answeredBy"]) == ("ask_person", "staff", "ada")
    assert len(fake_anthropic.message_requests) == 2, "the question was not asked of the model again"
    assert '"answer": "staff"' in str(fake_anthropic.message_requests[1].tool_results()[-1]["content"])
