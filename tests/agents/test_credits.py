"""Credits on the embedded runner: budgets and balances pause a run before the step that would go over,
more budget or credits and a resume continue it, the ledger charges every step once and prices tokens."""
from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import call_command
from django.db.models import Sum

from agents import credits
from agents import tasks as celery_tasks
from agents.dispatch import INLINE
from tasks_app import credit_ledger, services
from tasks_app.credit_ledger import CreditEntry
from tasks_app.models import Notification, Task, TaskExecution
from tests.fakes.anthropic_server import reply_text, reply_tool_use

from .helpers import run_inline, seed_hn_plan

pytestmark = pytest.mark.usefixtures("inline_engine")

REACTIVE = {"planning": "react"}  # the model picks each step (no plan made first)
HN_COSTS = [5, 20, 100, 10]  # http.get, http.getBatch, ai.summarize (offline: no tokens), email.send


def idle(task: Task) -> Task:
    assert INLINE.wait_idle(timeout=60)
    task.refresh_from_db()
    return task


def ledger(task: Task) -> list[tuple[int, str, int]]:
    rows = CreditEntry.objects.filter(task_ref=task.id).order_by("run", "step", "reason")
    return [(row.step, row.reason, row.amount) for row in rows]


def charged(task: Task) -> int:
    return -(CreditEntry.objects.filter(task_ref=task.id).aggregate(total=Sum("amount"))["total"] or 0)


def credit_notes(task: Task) -> list[Notification]:
    return list(Notification.objects.filter(task=task, kind="credit_limit").order_by("created_at"))


def credit_mail() -> list:
    return [m for m in mail.outbox if "X-Xantuus-Notification" in m.extra_headers and "credit limit" in m.subject]


def test_a_budget_pauses_before_the_step_that_would_exceed_it_and_more_budget_finishes(user, hn_server):
    task = services.task_create(user=user, title="Daily HN Summary", plan=seed_hn_plan(hn_server.url),
                                credit_budget=30)
    task = idle(services.task_execute(task=task))
    assert (task.status, task.pause_reason) == ("paused", "credit_limit"), task.error
    rows = list(TaskExecution.objects.filter(task=task).order_by("step"))
    assert [(r.step, r.action, r.credits) for r in rows] == [(1, "http.get", 5), (2, "http.getBatch", 20)]
    assert task.total_credits == 25 and task.current_step == 2, "no step ran past the budget"
    assert not any(m.subject == "Your Daily HN Summary" for m in mail.outbox)
    [note] = credit_notes(task)
    assert note.user == user and "step 3 would cost 100 credits" in note.message
    assert "budget of 30 credits has 5 left" in note.message and "raise creditBudget" in note.message
    [email] = credit_mail()
    assert email.to == ["ada@example.com"] and "step 3 would cost 100 credits" in email.body

    services.task_resume(task=task)  # not raised yet: it stops again at the same step, and says so again
    task = idle(task)
    assert (task.status, task.current_step, len(credit_notes(task))) == ("paused", 2, 2)

    task = services.task_update(task=task, changes={"credit_budget": 200})
    assert task.status == "paused" and task.credit_budget == 200
    task = idle(services.task_resume(task=task))
    assert task.status == "completed" and task.pause_reason == "", task.error
    assert [r.step for r in TaskExecution.objects.filter(task=task).order_by("step")] == [1, 2, 3, 4]
    assert [m.subject for m in mail.outbox].count("Your Daily HN Summary") == 1
    assert ledger(task) == [(n, "tool", -cost) for n, cost in enumerate(HN_COSTS, start=1)]
    assert task.total_credits == charged(task) == sum(HN_COSTS)
    assert credit_ledger.balance(user.id) == 10_000 - sum(HN_COSTS)


def test_an_exhausted_balance_pauses_and_a_grant_then_resume_continues(user, hn_server, settings):
    settings.AGENT_DEFAULT_CREDITS = 140  # planning (100) and two steps (25); the summary (100) is too much
    task = services.task_create(user=user, title="Daily HN Summary", agent_type="research",
                                agent_config={"sources": ["hackernews"], "count": 3})
    task = idle(services.task_execute(task=task))
    assert (task.status, task.pause_reason, task.current_step) == ("paused", "credit_limit", 2), task.error
    assert credit_ledger.balance(user.id) == 15
    [note] = credit_notes(task)
    assert "step 3 would cost 100 credits, but your credit balance is 15" in note.message

    call_command("grant_credits", "ada", "500", "--note", "top-up")
    assert credit_ledger.balance(user.id) == 515
    task = idle(services.task_resume(task=task))
    assert task.status == "completed", task.error
    assert ledger(task) == [(0, "planning", -100), *[(n, "tool", -c) for n, c in enumerate(HN_COSTS, start=1)]]
    assert task.total_credits == charged(task) == 100 + sum(HN_COSTS)
    assert credit_ledger.balance(user.id) == 140 + 500 - task.total_credits
    grant = CreditEntry.objects.get(user=user, reason="grant")
    assert (grant.amount, grant.note) == (500, "top-up")


def test_no_balance_pauses_before_planning_and_resume_plans_once_credits_are_granted(user, hn_server, settings):
    settings.AGENT_DEFAULT_CREDITS = 50
    task = services.task_create(user=user, title="Daily HN Summary", agent_type="research",
                                agent_config={"sources": ["hackernews"], "count": 2})
    task = idle(services.task_execute(task=task))
    assert (task.status, task.pause_reason, task.plan) == ("paused", "credit_limit", None)
    assert "planning would cost 100 credits" in credit_notes(task)[0].message
    credit_ledger.grant(user_id=user.id, amount=1_000)
    task = idle(services.task_resume(task=task))
    assert task.status == "completed" and task.plan_credits == 100, task.error
    assert task.total_credits == charged(task) == 100 + sum(HN_COSTS)


def test_a_retried_or_redelivered_step_is_charged_once(user, hn_server):
    hn_server.fail_next["/item/9001.json"] = [503]  # step 2 fails once and is retried
    task = run_inline(services.task_create(user=user, title="flaky", plan=seed_hn_plan(hn_server.url)))
    assert task.status == "completed", task.error
    assert TaskExecution.objects.get(task=task, step=2).attempts == 1, "step 2 ran twice"
    assert ledger(task) == [(n, "tool", -cost) for n, cost in enumerate(HN_COSTS, start=1)]

    assert celery_tasks.run_step(task.id) == "not-leased"  # the last step's message, delivered again
    step = TaskExecution.objects.get(task=task, step=4)
    attempt = _attempt_of(step)
    credits.charge_step(task, attempt)  # the step's charge, written a second time
    assert ledger(task) == [(n, "tool", -cost) for n, cost in enumerate(HN_COSTS, start=1)]
    assert task.total_credits == charged(task) == sum(HN_COSTS)


def _attempt_of(row: TaskExecution):
    from agents.attempt import Attempt

    return Attempt(row.step, row.action, row.input, credits=row.credits)


def test_a_model_driven_step_is_charged_by_its_tokens(user, hn_server, fake_anthropic, settings):
    settings.AGENT_TOKEN_PRICES = {"default": {"input": 40, "output": 200}, "claude-test": {"input": 10, "output": 50}}
    fake_anthropic.enqueue(
        reply_tool_use("http__get", {"url": f"{hn_server.url}/topstories.json"}, text="Fetch the ids.",
                       input_tokens=3_000, output_tokens=400),
        reply_text("8 stories are on the front page.", input_tokens=3_500, output_tokens=120),
    )
    task = run_inline(services.task_create(user=user, title="How many stories?", agent_model="claude-test-model",
                                           agent_config=REACTIVE))
    assert task.status == "completed", task.error
    step = TaskExecution.objects.get(task=task, step=1)
    # 3000 in at 10/1k + 400 out at 50/1k = 30 + 20 credits, plus http.get's 5
    assert (step.tokens, step.credits) == (3_400, 5 + 50)
    entries = {(e.step, e.reason): e for e in CreditEntry.objects.filter(task_ref=task.id)}
    tokens = entries[(1, "tokens")]
    assert (tokens.amount, tokens.model, tokens.input_tokens, tokens.output_tokens) == (-50, "claude-test-model",
                                                                                        3_000, 400)
    assert entries[(1, "tool")].amount == -5
    # the final answer is a reasoning step too: 3500 * 10/1k + 120 * 50/1k = 35 + 6
    assert entries[(2, "tokens")].amount == -41
    assert task.total_credits == charged(task) == task.plan_credits + 55 + 41


def test_a_model_driven_run_pauses_when_the_next_reasoning_step_would_exceed_the_budget(user, hn_server,
                                                                                       fake_anthropic):
    fake_anthropic.enqueue(
        reply_tool_use("http__get", {"url": f"{hn_server.url}/topstories.json"}, text="Fetch the ids.",
                       input_tokens=2_000, output_tokens=300),
        reply_text("8 stories.", input_tokens=2_500, output_tokens=50),
    )
    # the first reasoning step is expected to cost the seed's 100 and fits; it costs 5 + 80 + 60, and the
    # next one is expected to cost as much: over the budget
    task = services.task_create(user=user, title="How many stories?", credit_budget=200, agent_config=REACTIVE)
    task = idle(services.task_execute(task=task))
    assert (task.status, task.pause_reason, task.current_step) == ("paused", "credit_limit", 1), task.error
    assert task.total_credits == task.plan_credits + 5 + 140
    assert "step 2 would cost 145 credits" in credit_notes(task)[0].message
    assert len(fake_anthropic.message_requests) == 1, "the model was not asked again"
    services.task_update(task=task, changes={"credit_budget": 1_000})
    task = idle(services.task_resume(task=task))
    assert task.status == "completed", task.error
    assert task.total_credits == charged(task) == task.plan_credits + 145 + 110  # 2500 * 40/1k + 50 * 200/1k


def test_the_estimate_is_shown_before_the_run(user, hn_server):
    explicit = services.task_create(user=user, title="Daily HN Summary", plan=seed_hn_plan(hn_server.url))
    assert credits.estimate(explicit) == (500, 30_000)  # the seed's plan says so; planning costs nothing
    typed = services.task_create(user=user, title="Daily HN", agent_type="research",
                                 agent_config={"sources": ["hackernews"], "count": 3})
    assert credits.estimate(typed) == (100 + sum(HN_COSTS), 30_000)
    free = services.task_create(user=user, title="Anything")
    assert credits.estimate(free) == (None, None)


def test_token_prices_pick_the_longest_matching_model_prefix(settings):
    settings.AGENT_TOKEN_PRICES = {"default": {"input": 40, "output": 200}, "claude-opus": {"input": 200,
                                   "output": 1000}, "claude-opus-4-1": {"input": 150, "output": 750}}
    assert credits.token_credits("claude-opus-4-1-20250805", 1_000, 100) == 150 + 75
    assert credits.token_credits("claude-opus-4-20250514", 1_000, 100) == 200 + 100
    assert credits.token_credits("claude-sonnet-4-5", 1_000, 100) == 40 + 20
    assert credits.token_credits("claude-sonnet-4-5", 1, 0) == 1, "any model use costs a credit"
    assert credits.token_credits("claude-sonnet-4-5", 0, 0) == 0
    settings.AGENT_TOKEN_PRICES = {"claude-opus": {"input": 1}}
    with pytest.raises(Exception, match="AGENT_TOKEN_PRICES has no usable price for model 'claude-sonnet"):
        credits.token_credits("claude-sonnet-4-5", 10, 10)
