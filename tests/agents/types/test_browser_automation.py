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

from agents.dag import is_parallel
from agents.types import build_plan
from tasks_app import services
from tasks_app.agent_data import PriceObservation
from tasks_app.models import Task, TaskExecution
from tests.fakes.pages import Site, closed_port, js_shop_page, shop_page
from tools.base import ToolContext
from tools.egress import EgressPolicy
from tools.prices import tool as prices_tool

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


def test_each_page_is_read_by_a_step_of_its_own_and_one_step_merges_them():
    config = json.loads(SEED_AGENT_TYPE)["config"]
    plan = build_plan("browser_automation", config, goal="Check competitor pricing daily").to_json()
    one, two, combined, email = plan["steps"]
    assert [s["action"] for s in plan["steps"]] == ["prices.check", "prices.check", "prices.combine", "email.send"]
    assert one["params"] == {"urls": ["competitor1.com/pricing"], "selector": ".price", "screenshot": False,
                             "alertThreshold": 99.99, "failWhenNoneRead": False}
    assert two["params"]["urls"] == ["competitor2.com/pricing"] and one["dependsOn"] == two["dependsOn"] == []
    assert combined["dependsOn"] == ["step1", "step2"] and combined["params"] == {
        "checks": ["{step1.result}", "{step2.result}"], "alertThreshold": 99.99}
    assert email["when"] == "{combined.result.alert}" and email["params"]["body"] == "{combined.result.message}"
    assert is_parallel(plan) and plan["estimatedDuration"] == 15_000  # the pages are read at the same time
    assert plan["estimatedCredits"] == 2 * 30 + 0 + 10

    single = build_plan("browser_automation", json.loads(SEED_CREATE_TASK)["agentConfig"], goal="x").to_json()
    assert [s["action"] for s in single["steps"]] == ["prices.check", "prices.combine", "email.send"]
    assert not is_parallel(single)  # one page: a chain, step after step
    many = {"urls": [f"shop{n}.example/p" for n in range(20)], "selector": ".price"}
    assert len(build_plan("browser_automation", many, goal="x").steps) == 22


def _same(result: dict) -> dict:
    """The result, with each screenshot by its file name (the folder is the task's)."""
    pages = [{**p, "screenshot": {**p["screenshot"], "path": p["screenshot"]["path"].rsplit("/", 1)[1]}}
             for p in result["pages"]]
    return {**result, "pages": pages}


@pytest.mark.browser
def test_parallel_and_sequential_runs_give_what_one_check_of_every_page_gives(user, shops, smtp_sink,
                                                                            loopback_allowed):
    # No currency configured: the monitor's is the first page's (USD), so the euro page is not
    # comparable, although on its own (its step alone) it is below 99.99 in its own currency.
    urls = [f"{shops.url}/competitor1/pricing", f"{shops.url}/fr/pricing", f"{shops.url}/competitor2/pricing"]
    config = {"urls": urls, "selector": ".price", "alertThreshold": 99.99, "screenshot": True}
    parallel = run_inline(services.task_create(user=user, title="Watch three shops", agent_type="browser_automation",
                                               agent_config=config))
    assert parallel.status == "completed", parallel.error
    assert is_parallel(parallel.plan)
    rows = list(TaskExecution.objects.filter(task=parallel).order_by("step"))
    assert [r.action for r in rows] == ["prices.check"] * 3 + ["prices.combine", "email.send"]
    assert rows[1].output["alerted"] == [urls[1]]  # decided alone, in euro
    result = parallel.result
    assert [p["url"] for p in result["pages"]] == urls and result["currency"] == "USD"
    assert result["pages"][1]["note"] == "not comparable: the price is in EUR, the threshold is in USD"
    assert result["alerted"] == [urls[2]] and result["emailed"] and (result["read"], result["failed"]) == (3, 0)
    shots = [p["screenshot"]["path"] for p in result["pages"]]
    assert [s.rsplit("/", 1)[1] for s in shots] == ["screenshot-1.png", "screenshot-2.png", "screenshot-3.png"]
    assert all(Path(s).stat().st_size > 0 for s in shots)
    [message] = smtp_sink.wait_for(1)
    assert "1 of 3 watched pages need your attention" in message.get_content()
    assert "/fr/pricing" not in message.get_content() and "competitor1" not in message.get_content()

    # The same plan where no step declares dependsOn runs step after step (a typed task plans
    # afresh each run, so it runs as a task's own plan) and merges to the same result.
    plan = build_plan("browser_automation", config, goal="Watch three shops").to_json()
    for step in plan["steps"]:
        step["dependsOn"] = []
    sequential = run_inline(services.task_create(user=user, title="Watch three shops", plan=plan))
    assert sequential.status == "completed", sequential.error
    assert not is_parallel(sequential.plan) and sequential.plan["planning"]["by"] == "user"
    merged = {k: v for k, v in result.items() if k not in ("emailed", "values", "prices")}
    assert _same(sequential.result["outputs"]["combined"]) == _same(merged)

    context = ToolContext(task_id="t-direct", egress=EgressPolicy.from_entries(loopback_allowed))
    direct = prices_tool.actions["check"].run({**config, "screenshot": False}, context)
    without = [{k: v for k, v in p.items() if k != "screenshot"} for p in result["pages"]]
    assert direct == {**{k: result[k] for k in direct}, "pages": without, "history": False}
    assert set(result) == set(direct) | {"emailed", "values", "prices"}


@pytest.mark.browser
def test_when_no_page_can_be_read_the_run_fails_naming_each_and_sends_no_alert(user, loopback_allowed, smtp_sink):
    dead = [f"127.0.0.1:{closed_port()}/pricing", f"127.0.0.1:{closed_port()}/pricing"]
    task = run_inline(services.task_create(user=user, title="Watch two closed shops", agent_type="browser_automation",
                                           agent_config={"urls": dead, "selector": ".price"}))
    assert task.status == "failed"
    assert task.error.startswith("step 3 (prices.combine) failed: no page could be read: ")
    assert all(f"{url}: https://{url} could not be loaded" in task.error for url in dead)
    assert "gave up after" in task.error  # network trouble everywhere: retried, as one check of both was
    assert not any(m["Subject"].startswith("Price alert") for m in smtp_sink.messages)  # only the failure notice
    rows = PriceObservation.objects.filter(task=task).order_by("url")
    assert sorted(r.url for r in rows) == sorted(dead) and all("could not be loaded" in r.error for r in rows)


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
