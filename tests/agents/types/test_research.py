"""The research agent: the seed's weekly report, as written, against local HN (Algolia search),
reddit and Google News servers, on the embedded default; the report, its file and its email."""
from __future__ import annotations

import copy
import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings

from tasks_app import services
from tasks_app.agent_data import Upload
from tasks_app.models import TaskExecution
from tests.fakes.anthropic_server import reply_text
from tests.fakes.hn_server import FakeHackerNews
from tests.fakes.news_sources import FakeNewsSites, a_week_of_ai_news
from tests.tasks_app.api.conftest import client_for

from ..helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")

SEED_FILE = Path(settings.BASE_DIR) / "examples" / "seed" / "research.json"  # the seed's example, byte for byte
SEED = json.loads(SEED_FILE.read_bytes())


@pytest.fixture
def news(settings, loopback_allowed):
    """The three sources of the seed's example, with a week of AI news (and older)."""
    with FakeHackerNews([]) as hn, FakeNewsSites() as sites:
        a_week_of_ai_news(hn, sites)
        settings.HACKERNEWS_API_URL, settings.HACKERNEWS_SEARCH_URL = hn.url, hn.search_url
        settings.REDDIT_API_URL, settings.GOOGLE_NEWS_RSS_URL = sites.url, sites.rss_url
        yield hn, sites


def seed_task(user, **config):
    return services.task_create(user=user, title=SEED["goal"], agent_type=SEED["type"],
                                agent_config={**copy.deepcopy(SEED["config"]), **config})


def by_keyword(result):
    grouped: dict[str, list[str]] = {}
    for item in result["items"]:
        grouped.setdefault(item["keyword"], []).append(item["title"])
    return grouped


def test_the_seed_weekly_report(user, news, smtp_sink):
    assert SEED["config"]["keywords"] == ["AI automation", "AI agents", "workflow automation"]
    task = run_inline(seed_task(user))
    assert task.status == "completed", task.error
    result = task.result
    # One section per keyword, best first; the story found by three searches counts once.
    assert by_keyword(result) == {
        "AI automation": ["Our AI automation stack for a five-person agency", "AI automation reshapes back offices"],
        "AI agents": ["AI agents at work: what changed in 2026", "AI agents for workflow automation, benchmarked",
                      "AI agents that book meetings for you"],
        "workflow automation": ["Show HN: An open-source workflow automation engine",
                                "Is workflow automation worth it for small teams?"],
    }
    assert result["byKeyword"] == {"AI automation": 2, "AI agents": 3, "workflow automation": 2}
    assert result["storiesProcessed"] == 7 and result["sourceErrors"] == []
    # The HN story and its Google News copy (utm_ link, other case) are one item, with HN's points.
    [at_work] = [i for i in result["items"] if "agents at work" in i["title"].lower()]
    assert at_work["score"] == 420 and sorted(at_work["sources"]) == ["google_news", "hackernews"]
    # The weekly schedule's window: seven days; the 8-day-old stories are absent.
    start, end = (datetime.fromisoformat(result["window"][k].replace("Z", "+00:00")) for k in ("from", "to"))
    assert end - start == timedelta(days=7)
    report = result["report"]
    assert "eight days" not in report and "retrospective" not in report and "hype peaked" not in report
    assert "## AI automation (2)" in report and "## AI agents (3)" in report and "## workflow automation (2)" in report
    assert "**[AI automation reshapes back offices](https://news.google.com/rss/articles/CBMi-g1?oc=5)**" in report
    assert "Banks and insurers move claims work to AI automation." in report and "offline summary" in report

    upload = Upload.objects.get(owner=user, task_id=task.id)
    assert result["reportFile"]["id"] == upload.id and upload.content_type == "text/markdown"
    assert upload.name == f"weekly-report-on-ai-automation-trends-{end:%Y-%m-%d}.md"
    assert upload.file.read().decode() == report

    [message] = smtp_sink.wait_for(1)
    assert message["To"] == "ada@example.com" and message["Subject"] == "Your Weekly report on AI automation trends"
    assert message.get_body(("plain",)).get_content().strip() == report.strip()
    [attached] = list(message.iter_attachments())
    assert attached.get_filename() == upload.name and attached.get_content_type() == "text/markdown"
    assert attached.get_content().strip() == report.strip()
    assert result["emailedTo"] == ["ada@example.com"]
    steps = TaskExecution.objects.filter(task=task).order_by("step").values_list("action", flat=True)
    assert list(steps) == ["research.gather", "research.report", "email.send"]


def test_the_seed_example_posted_as_written(user, news, smtp_sink):
    api = client_for(user)
    created = api.post("/api/workspace/tasks", SEED_FILE.read_bytes(), content_type="application/json")
    assert created.status_code == 201, created.content
    done = api.post(f"/api/agent/execute/{created.json()['id']}", {"async": False}, format="json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["status"] == "completed", body.get("error")
    assert body["result"]["byKeyword"] == {"AI automation": 2, "AI agents": 3, "workflow automation": 2}
    [message] = smtp_sink.wait_for(1)
    assert "## AI agents (3)" in message.get_body(("plain",)).get_content()


def test_a_daily_schedule_reads_one_day(user, news, smtp_sink):
    hn, sites = news
    a_week_of_ai_news(hn, sites, now=time.time() + 6 * 3600)  # the newest stories are 18 hours old
    task = run_inline(seed_task(user, schedule="0 9 * * *", format="summary"))
    assert task.status == "completed", task.error
    assert by_keyword(task.result) == {"AI automation": ["AI automation reshapes back offices"],
                                       "AI agents": ["AI agents at work: what changed in 2026"]}
    assert task.result["byKeyword"]["workflow automation"] == 0
    # format "summary": the overview and the counts, no sections.
    assert "## AI agents" not in task.result["report"]
    assert "Stories per keyword: AI automation: 1 · AI agents: 1 · workflow automation: 0" in task.result["report"]


def test_window_overrides_the_schedule(user, news, smtp_sink):
    task = run_inline(seed_task(user, window="60h", email=False))
    assert task.status == "completed", task.error
    assert task.result["byKeyword"] == {"AI automation": 2, "AI agents": 1, "workflow automation": 1}
    assert task.result["emailedTo"] == [] and smtp_sink.messages == []


def test_a_source_that_fails_is_reported_and_the_report_still_goes_out(user, news, smtp_sink):
    sites = news[1]
    sites.fail[("/rss/search", "AI automation")] = 500
    task = run_inline(seed_task(user))
    assert task.status == "completed", task.error
    [error] = task.result["sourceErrors"]
    assert (error["source"], error["keyword"]) == ("google_news", "AI automation")
    assert by_keyword(task.result)["AI automation"] == ["Our AI automation stack for a five-person agency"]
    [message] = smtp_sink.wait_for(1)
    assert "## Sources that did not answer" in message.get_body(("plain",)).get_content()


def test_with_a_model_the_overview_is_its_own_and_the_items_stay_factual(user, news, smtp_sink, fake_anthropic):
    overview = "Agents moved from demos to daily office work this week."
    fake_anthropic.enqueue(reply_text(overview))
    task = run_inline(seed_task(user))
    assert task.status == "completed", task.error
    [asked] = fake_anthropic.message_requests
    prompt = asked.messages[0]["content"]
    assert "AI agents at work: what changed in 2026" in prompt and "invent no facts" in prompt
    assert task.result["summary"] == overview
    report = task.result["report"]
    assert f"## Overview\n\n{overview}\n" in report and "offline summary" not in report
    assert "   reddit · " in report and "870 points" in report


@pytest.mark.parametrize(("config", "words"), [
    ({"window": "a fortnight"}, "window"),
    ({"sources": ["twitter"]}, "sources"),
])
def test_bad_config_is_refused_naming_the_field(user, config, words):
    with pytest.raises(services.InvalidTask, match=words):
        seed_task(user, **config)
