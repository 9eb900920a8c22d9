"""Typed agents plan from their config and run end to end against local counterparts."""
from __future__ import annotations

import pytest

from tasks_app import services
from tasks_app.models import TaskExecution
from tests.fakes.pages import Site
from tests.fakes.scratch_db import scratch_database

from .helpers import run_inline

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


@pytest.fixture
def crm(settings):
    schema = "CREATE TABLE leads (id serial PRIMARY KEY, name text, email text, company text)"
    with scratch_database("xantuus_crm", schema) as url:
        settings.AGENT_DATABASES = {"crm_database": url}
        yield url


def test_data_processing_loads_a_csv_cleans_it_and_saves_it_to_the_named_database(user, crm, loopback_allowed):
    import psycopg

    csv = "name,email,company\nAda,ada@example.com,Analytical\n,,\nAda,ada@example.com,Analytical\nBob,bob@x.io,Bits\n"
    with Site({"/leads.csv": csv}) as site:
        config = {"input": f"{site.url}/leads.csv", "output": "crm_database",
                  "transform": "result['rows'] = [dict(r, company=r['company'].upper()) for r in rows]"}
        task = run_inline(services.task_create(user=user, title="Import leads", agent_type="data_processing",
                                        agent_config=config))
    assert task.status == "completed", task.error
    assert task.result["count"] == 2 and task.result["saved"] == 2
    with psycopg.connect(crm) as conn:
        saved = conn.execute("SELECT name, email, company FROM leads ORDER BY id").fetchall()
    assert saved == [("Ada", "ada@example.com", "ANALYTICAL"), ("Bob", "bob@x.io", "BITS")]


def test_data_processing_enrichment_without_a_model_is_refused_clearly(user):
    with pytest.raises(services.InvalidTask) as error:
        services.task_create(user=user, title="x", agent_type="data_processing",
                             agent_config={"rows": [{"name": "Ada"}], "enrichment": ["company_size"]})
    assert "enrichment needs a language model" in str(error.value)


def test_research_over_several_sources_writes_one_report(user, smtp_sink, settings, loopback_allowed):
    from tests.fakes.hn_server import FakeHackerNews

    rss = ('<?xml version="1.0"?><rss version="2.0"><channel><item><title>AI agents go mainstream</title>'
           '<link>https://news.example/1</link><pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate>'
           '<description>Agents everywhere</description></item></channel></rss>')
    with FakeHackerNews() as hn, Site({"/rss/search": rss}) as news:
        hn.stories[0]["title"] = "AI agents in production"
        settings.HACKERNEWS_API_URL, settings.GOOGLE_NEWS_RSS_URL = hn.url, f"{news.url}/rss/search"
        config = {"sources": ["google_news", "hackernews"], "keywords": ["AI agents"], "format": "markdown_report"}
        task = run_inline(services.task_create(user=user, title="Weekly report on AI automation trends",
                                        agent_type="research", agent_config=config))
    assert task.status == "completed", task.error
    assert task.result["storiesProcessed"] == 2
    assert "AI agents go mainstream" in task.result["summary"] and "AI agents in production" in task.result["summary"]
    [message] = smtp_sink.wait_for(1)
    assert message["Subject"] == "Your Weekly report on AI automation trends"
