"""A model that keeps failing fails the free-form run with its error, after the engine's retries."""
from __future__ import annotations

import pytest

from tasks_app import services
from tasks_app.models import TaskExecution
from tests.fakes.anthropic_server import reply_error, reply_text

from .helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")
REACT = {"planning": "react"}  # ReAct from the first step: no plan is asked of the model first


def test_a_model_that_keeps_failing_fails_the_run_with_its_error(user, fake_anthropic, settings):
    settings.AGENT_MAX_RETRIES, settings.AGENT_MAX_TOOL_CALLS = 1, 6  # the client tries twice per engine attempt
    fake_anthropic.responder = lambda request: reply_error(529, message="Overloaded", retry_after=0.001)
    task = run_inline(services.task_create(user=user, title="ask an overloaded model", agent_config=REACT))
    assert task.status == "failed"
    assert task.error.startswith("step 1 (llm.reason) failed: the model did not answer:")
    assert "Overloaded" in task.error and "gave up after 2 attempts" in task.error
    [row] = TaskExecution.objects.filter(task=task)
    assert (row.action, row.status, row.attempts) == ("llm.reason", "failed", 2)
    assert len(fake_anthropic.message_requests) == 4, "two engine attempts of two client tries, then no more"


def test_a_model_that_recovers_within_the_retries_carries_on(user, fake_anthropic, settings):
    settings.AGENT_MAX_RETRIES = 1
    fake_anthropic.enqueue(*[reply_error(529, retry_after=0.001)] * 3, reply_text("Back, and the answer is 42."))
    task = run_inline(services.task_create(user=user, title="ride out a longer outage", agent_config=REACT))
    assert task.status == "completed", task.error
    assert task.result["summary"] == "Back, and the answer is 42."
    assert [r.status for r in fake_anthropic.message_requests] == [529, 529, 529, 200]
