"""The browser_automation agent: the seed's example tasks as written, against local pricing pages.

Only the seed's internet hosts are pointed at local servers, written without a scheme as the
seed writes them, so each check tries https first (refused by the plain-http port) and falls
back to http.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks_app import services
from tasks_app.agent_data import PriceObservation
from tasks_app.models import Task, TaskExecution
from tests.fakes.pages import Site, closed_port, js_shop_page, shop_page

from ..helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")

# design-document.md's "Agent Types & Use Cases" and "Create Task" examples, byte for byte.
SEED = Path(__file__).resolve().parents[3] / "examples" / "seed"
SEED_AGENT_TYPE = (SEED / "browser_automation.json").read_text()
SEED_CREATE_TASK = (SEED / "monitor_competitor_pricing.json").read_text()


@pytest.fixture
def shops(loopback_allowed):
    pages = {"/competitor1/pricing": shop_page("Competitor 1", "$129.00"),
             "/competitor2/pricing": js_shop_page("Competitor 2", "$89.50", delay_ms=300),
             "/competitor/pricing": shop_page("Competitor", "$129.00"),
             "/de/pricing": shop_page("Konkurrent", "1.299,00 €"),
             "/fr/pricing": js_shop_page("Concurrent", "49,90 €")}
    with Site(pages) as site:
        yield site


def host(site: Site) -> str:
    """'127.0.0.1:PORT': the shop's address without a scheme, as the seed writes its hosts."""
    return site.url.removeprefix("http://")


def create(user, seed_json: str, shops: Site) -> Task:
    """POST the seed's JSON with its hosts pointed at the local shop (no scheme, as written)."""
    body = json.loads(re.sub(r"\b(competitor\d?)\.com/pricing", rf"{host(shops)}/\1/pricing", seed_json))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    response = client.post("/api/workspace/tasks", body, format="json")
    assert response.status_code == 201, response.content
    return Task.objects.get(id=response.json()["id"])


def by_url(task: Task) -> dict[str, dict]:
    return {page["url"].rsplit("/", 2)[-2]: page for page in task.result["pages"]}


@pytest.mark.browser
def test_the_seed_example_alerts_on_the_competitor_below_the_threshold(user, shops, smtp_sink):
    task = create(user, SEED_AGENT_TYPE, shops)
    assert task.agent_config["urls"] == [f"{host(shops)}/competitor1/pricing", f"{host(shops)}/competitor2/pricing"]
    task = run_inline(task)
    assert task.status == "completed", task.error
    pages = by_url(task)
    one, two = pages["competitor1"], pages["competitor2"]
    assert (one["price"], one["currency"], one["text"], one["alert"]) == (129.0, "USD", "$129.00", False)
    assert (two["price"], two["currency"], two["text"]) == (89.5, "USD", "$89.50")  # written by JavaScript
    assert two["reasons"] == ["below the threshold of 99.99 USD"] and two["openedUrl"].startswith("http://")
    assert task.result["alerted"] == [two["url"]] and task.result["alert"] is True and task.result["emailed"]
    assert (task.result["currency"], task.result["threshold"]) == ("USD", 99.99)
    assert task.result["values"] == ["$129.00", "$89.50"]
    [message] = smtp_sink.wait_for(1)
    body = message.get_content()
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Price alert: Check competitor pricing daily and alert if lower than ours"
    assert f"- {two['url']}: now 89.50 USD, was no earlier reading; below the threshold of 99.99 USD" in body
    assert "competitor1" not in body
    rows = PriceObservation.objects.filter(task=task, run=1).order_by("url")
    assert [(r.url, r.price, r.currency) for r in rows] == [(one["url"], 129, "USD"), (two["url"], 89.5, "USD")]

    shops.pages["/competitor1/pricing"] = shop_page("Competitor 1", "$95.00")  # a price cut
    task = run_inline(task)
    one, two = by_url(task)["competitor1"], by_url(task)["competitor2"]
    assert (one["price"], one["previousPrice"], one["changed"]) == (95.0, 129.0, True)
    assert (two["previousPrice"], two["changed"]) == (89.5, False)
    _, second = smtp_sink.wait_for(2)
    assert f"- {one['url']}: now 95.00 USD, was 129.00 USD; below the threshold" in second.get_content()
    assert f"- {two['url']}: now 89.50 USD, was 89.50 USD; below the threshold" in second.get_content()


@pytest.mark.browser
def test_the_seed_create_task_example_alerts_when_the_price_changes(user, shops, smtp_sink):
    task = run_inline(create(user, SEED_CREATE_TASK, shops))
    assert task.status == "completed", task.error
    [page] = task.result["pages"]
    assert (page["price"], page["previousPrice"], page["changed"]) == (129.0, None, False)  # a first reading
    assert task.result["alertOnChange"] is True and task.result["alert"] is False and smtp_sink.messages == []

    shops.pages["/competitor/pricing"] = shop_page("Competitor", "$119.00")
    task = run_inline(task)
    [page] = task.result["pages"]
    assert (page["price"], page["previousPrice"], page["changed"], page["reasons"]) == (
        119.0, 129.0, True, ["changed since the last check"])
    [message] = smtp_sink.wait_for(1)
    assert f"- {page['url']}: now 119.00 USD, was 129.00 USD; changed since the last check" in message.get_content()

    task = run_inline(task)  # unchanged since: nothing to say
    assert task.result["pages"][0]["changed"] is False and task.result["alert"] is False
    assert len(smtp_sink.messages) == 1
    assert list(PriceObservation.objects.filter(task=task).order_by("run").values_list("run", "price")) == [
        (1, 129), (2, 119), (3, 119)]

    from tests.tasks_app.api.conftest import client_for

    history = client_for(user).get(f"/api/prices?taskId={task.id}").json()
    assert [(r["run"], r["price"], r["currency"]) for r in history["results"]] == [
        (3, "119.0000", "USD"), (2, "119.0000", "USD"), (1, "129.0000", "USD")]
    eve = type(user).objects.create_user(username="eve", password="pw-eve-123")
    assert client_for(eve).get(f"/api/prices?taskId={task.id}").json()["count"] == 0


@pytest.mark.browser
def test_euro_prices_compare_in_euro_and_one_dead_page_does_not_stop_the_others(user, shops, smtp_sink):
    dead = f"127.0.0.1:{closed_port()}/pricing"
    config = {"urls": [f"{host(shops)}/de/pricing", f"{host(shops)}/fr/pricing", dead,
                       f"{host(shops)}/competitor1/pricing"],
              "selector": ".price", "alertThreshold": 99.99, "currency": "EUR"}
    task = run_inline(services.task_create(user=user, title="Watch the EU shops", agent_type="browser_automation",
                                           agent_config=config))
    assert task.status == "completed", task.error
    de, fr, down, us = task.result["pages"]
    assert (de["price"], de["currency"], de["text"], de["alert"]) == (1299.0, "EUR", "1.299,00 €", False)
    assert (fr["price"], fr["currency"], fr["text"]) == (49.9, "EUR", "49,90 €")
    assert fr["reasons"] == ["below the threshold of 99.99 EUR"]
    assert us["note"] == "not comparable: the price is in USD, the threshold is in EUR" and not us["alert"]
    assert down["url"] == dead and down["price"] is None and "could not be loaded" in down["error"]
    assert f"https://{dead}" in down["error"] and f"http://{dead}" in down["error"]
    assert task.result["alerted"] == [fr["url"]] and (task.result["read"], task.result["failed"]) == (3, 1)
    [message] = smtp_sink.wait_for(1)
    body = message.get_content()
    assert "1 of 4 watched pages need your attention" in body
    assert f"- {fr['url']}: now 49.90 EUR, was no earlier reading; below the threshold of 99.99 EUR" in body
    assert "/de/pricing" not in body and dead not in body and "competitor1" not in body
    row = PriceObservation.objects.get(task=task, url=dead)
    assert row.price is None and "could not be loaded" in row.error


@pytest.mark.browser
def test_no_alert_is_sent_when_every_price_is_above_the_threshold(user, shops, smtp_sink):
    config = {"url": f"{shops.url}/competitor1/pricing", "selector": ".price", "alertThreshold": 50,
              "screenshot": True}
    task = run_inline(services.task_create(user=user, title="Check pricing", agent_type="browser_automation",
                                           agent_config=config))
    assert task.status == "completed", task.error
    assert task.result["alert"] is False and smtp_sink.messages == [] and task.result["emailed"] is False
    assert task.result["pages"][0]["screenshot"]["width"] == 1280
    last = TaskExecution.objects.filter(task=task).order_by("step").last()
    assert last.action == "email.send" and last.output["skipped"] is True and last.credits == 0


@pytest.mark.parametrize(("config", "problem"), [
    ({"urls": []}, "selector: Field required"),
    ({"urls": [], "selector": ".price"}, "give url or urls"),
    ({"url": "ftp://shop.example/pricing", "selector": ".price"}, "only http and https pages can be watched"),
    ({"url": "shop.example", "selector": ".price", "alertThreshold": 9, "ourPrice": 10}, "not both"),
])
def test_a_config_that_fails_the_types_schema_names_the_field(user, config, problem):
    with pytest.raises(services.InvalidTask) as error:
        services.task_create(user=user, title="x", agent_type="browser_automation", agent_config=config)
    assert error.value.field == "agentConfig" and problem in str(error.value)
    assert not Task.objects.exists()
