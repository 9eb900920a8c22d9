"""The browser_automation agent: its config, its plan and its job, end to end against local counterparts."""
from __future__ import annotations

import pytest

from tasks_app import services
from tasks_app.models import TaskExecution
from tests.fakes.pages import Site

from ..helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")

SHOP = '<html><body><h1>{name}</h1><span class="price">{price}</span></body></html>'


@pytest.fixture
def shops(loopback_allowed):
    pages = {"/a/pricing": SHOP.format(name="A", price="$129.00"), "/b/pricing": SHOP.format(name="B", price="$89.50")}
    with Site(pages) as site:
        yield site

@pytest.mark.browser
def test_browser_automation_watches_prices_and_alerts_below_the_threshold(user, shops, smtp_sink):
    config = {"urls": [f"{shops.url}/a/pricing", f"{shops.url}/b/pricing"], "selector": ".price",
              "schedule": "0 9 * * *", "alertThreshold": 99.99}
    task = run_inline(services.task_create(user=user, title="Check competitor pricing", agent_type="browser_automation",
                                    agent_config=config))
    assert task.status == "completed", task.error
    assert task.result["values"] == ["$129.00", "$89.50"] and task.result["alert"] is True
    assert [p["price"] for p in task.result["prices"]] == [129.0, 89.5]
    [message] = smtp_sink.wait_for(1)
    assert message["To"] == "ada@example.com" and "/b/pricing: $89.50" in message.get_content()
    assert "/a/pricing" not in message.get_content()

@pytest.mark.browser
def test_no_alert_is_sent_when_every_price_is_above_the_threshold(user, shops, smtp_sink):
    config = {"url": f"{shops.url}/a/pricing", "selector": ".price", "alertThreshold": 50}
    task = run_inline(services.task_create(user=user, title="Check pricing", agent_type="browser_automation",
                                    agent_config=config))
    assert task.status == "completed", task.error
    assert task.result["alert"] is False and smtp_sink.messages == []
    last = TaskExecution.objects.filter(task=task).order_by("step").last()
    assert last.action == "email.send" and last.output["skipped"] is True and last.credits == 0

def test_a_config_that_fails_the_types_schema_names_the_field(user):
    with pytest.raises(services.InvalidTask) as error:
        services.task_create(user=user, title="x", agent_type="browser_automation", agent_config={"urls": []})
    assert error.value.field == "agentConfig" and "selector: Field required" in str(error.value)
