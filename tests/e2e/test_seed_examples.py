"""The seed's example tasks, byte for byte, through the API on the real stack: PostgreSQL, Redis,
a `celery worker` process (Chromium inside it), an SMTP sink and local servers standing in for
the internet. Only the seed's internet hosts are pointed at those servers.

Each example is checked for what a person who hired the agent would look at: the prices read
and the alert that went out, the emails that arrived (to whom, personalized, once), the report's
items per keyword, the CRM rows written.
"""
from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks_app import contacts
from tasks_app.lifecycle import TERMINAL
from tests.fakes import processes
from tests.fakes.hn_server import FakeHackerNews
from tests.fakes.news_sources import FakeNewsSites, a_week_of_ai_news
from tests.fakes.pages import Site, shop_page
from tests.fakes.pdl_server import KEY
from tests.tasks_app.api.conftest import client_for

pytestmark = [pytest.mark.slow, pytest.mark.browser]
LEADS_CSV = ("name,email,company\r\nJosé Müller,jose@example.com,Café\r\nZoë Null,zoe@unknown.test,Nowhere\r\n"
             "Bad,not-an-email,X\r\n").encode("cp1252")
SEED = Path(settings.BASE_DIR) / "examples" / "seed"


@pytest.fixture
def world(transactional_db, settings, loopback_allowed, smtp_sink, pdl_server, tmp_path):
    """The outside world (shops, news sources, SMTP) and a real worker pointed at it."""
    pages = {"/competitor1/pricing": shop_page("Competitor 1", "$129.00"),
             "/competitor2/pricing": shop_page("Competitor 2", "$89.50")}
    with Site(pages) as shops, FakeHackerNews([]) as hn, FakeNewsSites() as news:
        a_week_of_ai_news(hn, news)
        env = processes.stack_env(
            EMAIL_HOST=smtp_sink.host, EMAIL_PORT=str(smtp_sink.port), HACKERNEWS_API_URL=hn.url,
            HACKERNEWS_SEARCH_URL=hn.search_url, REDDIT_API_URL=news.url, GOOGLE_NEWS_RSS_URL=news.rss_url,
            AGENT_ENRICHMENT_URL=pdl_server.url, AGENT_ENRICHMENT_KEY=KEY, AGENT_ENRICHMENT_RATE="1000")
        worker = processes.celery_worker("worker", env, tmp_path)
        try:
            processes.wait_until_ready(worker, "ready.")
            yield {"shops": shops, "smtp": smtp_sink, "pdl": pdl_server}
        finally:
            worker.stop()
            print(f"worker log (shown when the test fails):\n{worker.tail(80)}")


def post_seed(api, name: str, replace: dict[str, str] | None = None) -> str:
    body = (SEED / name).read_text()
    for pattern, value in (replace or {}).items():
        body = re.sub(pattern, value, body)
    response = api.generic("POST", "/api/workspace/tasks", body, content_type="application/json")
    assert response.status_code == 201, response.content
    task_id = response.json()["id"]
    assert api.post(f"/api/agent/execute/{task_id}", {"async": True}, format="json").status_code == 202
    return task_id


def finished(api, task_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = api.get(f"/api/workspace/tasks/{task_id}").json()
        if task["status"] in TERMINAL:
            return task
        time.sleep(0.2)
    trace = api.get(f"/api/agent/{task_id}/trace").json()["steps"]
    steps = [(step.get("step"), step.get("action"), step.get("status")) for step in trace]
    raise AssertionError(f"task {task_id} did not finish in {timeout}s: {task['status']}, trace {steps}")


def test_the_seeds_examples_do_their_jobs_on_the_real_stack(user, world):
    api = client_for(user)
    today = datetime.now(UTC).date()
    for email, days_ago, features in (("lin@example.com", 7, ["browser", "email"]), ("sam@example.com", 7, ["ai"]),
                                      ("noa@example.com", 7, []), ("kim@example.com", 6, ["email"])):
        contacts.upsert(owner_id=user.id, values=contacts.clean({
            "email": email, "name": email.split("@")[0].title(), "plan": "trial",
            "signupDate": (today - timedelta(days=days_ago)).isoformat(), "attributes": {"features_used": features}}))
    shop = world["shops"].url.removeprefix("http://")
    browser = post_seed(api, "browser_automation.json", {r"\b(competitor\d)\.com/pricing": rf"{shop}/\1/pricing"})
    campaign = post_seed(api, "email_campaign.json")
    research = post_seed(api, "research.json")
    leads = SimpleUploadedFile("leads.csv", LEADS_CSV, content_type="text/csv")
    assert api.post("/api/files", {"file": leads}, format="multipart").status_code == 201
    crm = post_seed(api, "data_processing.json")

    prices = finished(api, browser)
    assert prices["status"] == "completed", prices["error"]
    assert [(p["price"], p["currency"]) for p in prices["result"]["pages"]] == [(129.0, "USD"), (89.5, "USD")]
    assert prices["result"]["alerted"] == [f"{shop}/competitor2/pricing"]

    sent = finished(api, campaign)
    assert sent["status"] == "completed", sent["error"]
    assert sorted(sent["result"]["sent"]) == ["lin@example.com", "sam@example.com"]
    assert [s["email"] for s in sent["result"]["skipped"]] == ["noa@example.com"]

    report = finished(api, research)
    assert report["status"] == "completed", report["error"]
    assert set(report["result"]["byKeyword"]) == {"AI automation", "AI agents", "workflow automation"}
    assert report["result"]["reportFile"]["name"].endswith(".md")

    saved = finished(api, crm)
    assert saved["status"] == "completed", saved["error"]
    assert (saved["result"]["written"], saved["result"]["enriched"], saved["result"]["notMatched"]) == (2, 1, 1)
    assert saved["result"]["rejected"] == [{"line": 4, "reason": "invalid email 'not-an-email'"}]
    rows = {lead["email"]: lead for lead in api.get("/api/crm/leads").json()["results"]}
    assert rows["jose@example.com"]["fields"]["title"] == "head of growth"
    assert rows["zoe@unknown.test"]["enrichment"]["title"] == "not_matched"

    mail = world["smtp"].wait_for(4, timeout_s=30)
    by_recipient: dict[str, list[str]] = {}
    for message in mail:
        by_recipient.setdefault(message["To"], []).append(message["Subject"])
    assert by_recipient["lin@example.com"] == ["How is your trial going, Lin?"]
    assert by_recipient["sam@example.com"] == ["How is your trial going, Sam?"]
    assert sorted(by_recipient["ada@example.com"])[0].startswith("Price alert")
    assert "kim@example.com" not in by_recipient, "day 6 is not due"
    assert json.dumps(sent["result"]).count("lin@example.com") == 1
