"""The email_campaign agent: its config, its plan and its job, end to end against local counterparts."""
from __future__ import annotations

import pytest

from tasks_app import services

from ..helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")


def test_email_campaign_sends_one_personalized_email_per_recipient(user, smtp_sink):
    config = {"trigger": "trial_day_7", "template": "trial_followup",
              "personalization": ["name", "signup_date", "features_used"],
              "recipients": [{"email": "lin@example.com", "name": "Lin", "signup_date": "2026-11-19",
                              "features_used": ["browser", "email"]},
                             {"email": "sam@example.com", "name": "Sam", "signup_date": "2026-11-19",
                              "features_used": []}]}
    task = run_inline(services.task_create(user=user, title="Day-7 follow-up", agent_type="email_campaign",
                                    agent_config=config))
    assert task.status == "completed", task.error
    assert task.result == {"sent": 2, "recipients": ["lin@example.com", "sam@example.com"]}
    messages = {m["To"]: m for m in smtp_sink.wait_for(2)}
    assert messages["lin@example.com"]["Subject"] == "How is your trial going, Lin?"
    assert "So far you have used: browser, email." in messages["lin@example.com"].get_content()
    assert len({m["Message-ID"] for m in messages.values()}) == 2, "each send has its own idempotency key"

def test_email_campaign_refuses_recipients_missing_a_personalization_field(user):
    config = {"template": "trial_followup", "personalization": ["name"], "recipients": [{"email": "x@example.com"}]}
    with pytest.raises(services.InvalidTask) as error:
        services.task_create(user=user, title="x", agent_type="email_campaign", agent_config=config)
    assert "recipients[0] (x@example.com) lacks name" in str(error.value)
