"""Waiting on conditions with a deadline (tests never sleep a fixed time to wait for something)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], *, timeout: float = 20, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def seed_hn_plan(hn_url: str) -> dict:
    """The seed's Daily HN Summary plan, as written, pointed at a local HN-shaped server."""
    return {
        "steps": [
            {"action": "http.get", "description": "Fetch top stories from HN API", "tool": "http",
             "params": {"url": f"{hn_url}/topstories.json"}},
            {"action": "http.getBatch", "description": "Fetch details for top 5 stories", "tool": "http",
             "params": {"ids": "{step1.result.slice(0,5)}"}},
            {"action": "ai.summarize", "description": "Summarize the stories", "tool": "ai",
             "params": {"items": "{step2.result}"}},
            {"action": "email.send", "description": "Send summary email", "tool": "email",
             "params": {"to": "{user.email}", "subject": "Your Daily HN Summary", "body": "{step3.result}"}},
        ],
        "estimatedCredits": 500,
        "estimatedDuration": 30000,
    }


def run_inline(task: Any) -> Any:
    """Start a run on the embedded runner and return the task once the runner is idle."""
    from agents.dispatch import INLINE
    from tasks_app import services

    services.task_execute(task=task)
    assert INLINE.wait_idle(timeout=120), "the inline runner did not go idle"
    task.refresh_from_db()
    return task


def run_inline_approving(task: Any, user: Any, actions: list[str]) -> Any:
    """run_inline, approving as its owner each gated call of `actions`, in order (what a person does in the
    inbox); a question for any other call fails the test, and so does one of `actions` never asked."""
    from agents.dispatch import INLINE
    from tasks_app import services
    from tasks_app.models import Approval

    task = run_inline(task)
    expected = list(actions)
    while task.status == "awaiting_approval":
        pending = Approval.objects.get(task=task, status="pending")
        assert expected and pending.action == expected[0], f"unexpected approval: {pending.question}"
        expected.pop(0)
        services.approval_decide(approval=pending, approve=True, user=user)
        assert INLINE.wait_idle(timeout=120), "the inline runner did not go idle"
        task.refresh_from_db()
    assert not expected, f"never asked to approve {expected}"
    return task
