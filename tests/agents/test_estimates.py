"""Estimates come from the recorded steps of the same actions: the owner's median, else everyone's."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.estimates import OWNER_SCAN, estimate
from tasks_app import services
from tasks_app.models import Task, TaskExecution

from .helpers import run_inline, seed_hn_plan


def recorded(owner, action: str, *rows: tuple[int, int, int]) -> None:
    """Completed steps of `action` in one task of `owner`: (duration ms, credits, tokens) each."""
    task = Task.objects.create(user=owner, title=f"history of {action}")
    for step, (duration, credits, tokens) in enumerate(rows, start=1):
        TaskExecution.objects.create(task=task, run=1, step=step, action=action, tool=action.split(".")[0],
                                     status="completed", duration=duration, credits=credits, tokens=tokens,
                                     idempotency_key=f"k{step}")


@pytest.mark.django_db
def test_the_owners_own_history_comes_first_then_everyones(user, django_user_model):
    other = django_user_model.objects.create_user(username="bo", email="bo@example.com", password="pw-bo-12345")
    recorded(other, "http.get", (9_000, 5, 0), (9_000, 5, 0), (9_000, 5, 0))
    recorded(other, "ai.summarize", (4_000, 100, 800), (6_000, 100, 1_200))
    recorded(user, "http.get", (100, 5, 0), (300, 5, 0), (200, 5, 0))
    steps = [{"action": "http.get"}, {"action": "ai.summarize"}]
    got = estimate(steps, owner_id=user.id)
    # the owner's median http.get (200 ms), everyone's ai.summarize (5000 ms: no run of the owner's)
    assert (got.duration, got.credits, got.tokens, got.from_history) == (200 + 5_000, 5 + 100, 1_000, 2)


@pytest.mark.django_db
def test_the_owners_history_is_looked_for_among_the_actions_latest_steps_in_one_read(
        user, django_user_model, django_assert_num_queries):
    other = django_user_model.objects.create_user(username="bo", email="bo@example.com", password="pw-bo-12345")
    recorded(other, "http.get", *[(1_000, 5, 0)] * (OWNER_SCAN + 50))  # more than the read looks at
    recorded(user, "http.get", (50, 5, 0))
    TaskExecution.objects.filter(task__user=user).update(completed_at=timezone.now() - timedelta(days=1))
    TaskExecution.objects.filter(task__user=other).update(completed_at=timezone.now())
    with django_assert_num_queries(1):  # the action's latest OWNER_SCAN steps with their owners, at once
        got = estimate([{"action": "http.get"}], owner_id=user.id)
    assert got.duration == 1_000, "the owner's one run is older than the action's latest: everyone's median"


@pytest.mark.django_db
def test_an_action_never_run_counts_its_catalog_credits_and_the_plans_own_guess(user):
    recorded(user, "http.get", (400, 5, 0))
    got = estimate([{"action": "http.get"}, {"action": "email.send"}], owner_id=user.id, declared_duration=3_000)
    assert got.credits == 5 + 10 and got.duration == 400 + 1_500 and got.from_history == 1
    nothing = estimate([{"action": "email.send"}], owner_id=user.id)
    assert (nothing.credits, nothing.duration, nothing.from_history) == (10, 0, 0)


def test_a_parallel_plans_own_guess_is_shared_by_the_steps_on_its_longest_path(user):
    both = [{"action": "http.get", "dependsOn": []}, {"action": "http.get", "dependsOn": []},
            {"action": "email.send", "dependsOn": ["step1", "step2"]}]
    got = estimate(both, owner_id=user.id, declared_duration=3_000)
    assert got.duration == 3_000  # the fetches overlap: 1.5 s, then the mail's 1.5 s
    chain = [{k: v for k, v in step.items() if k != "dependsOn"} for step in both]
    assert estimate(chain, owner_id=user.id, declared_duration=3_000).duration == 3_000  # 1 s each


def test_a_second_run_is_estimated_from_the_first_and_the_status_shows_both(user, hn_server, inline_engine):
    from tests.tasks_app.api.conftest import client_for

    first = run_inline(services.task_create(user=user, title="Daily HN", plan=seed_hn_plan(hn_server.url)))
    assert first.status == "completed", first.error
    rows = list(TaskExecution.objects.filter(task=first).order_by("step"))
    second = run_inline(services.task_create(user=user, title="Daily HN again", plan=seed_hn_plan(hn_server.url)))
    assert second.plan["estimatedDuration"] == sum(r.duration for r in rows)
    assert second.plan["estimatedCredits"] == sum(r.credits for r in rows) != 500  # not the plan's constant
    assert second.plan["planning"]["estimate"]["stepsFromHistory"] == 4
    status = client_for(user).get(f"/api/agent/status/{second.id}").json()
    assert status["estimatedCredits"] == second.plan["estimatedCredits"] + second.plan_credits
    assert status["estimatedDuration"] == second.plan["estimatedDuration"]
    assert status["creditsUsed"] == second.total_credits and status["executionTime"] == second.execution_time
