"""The research agent: its config, its plan and its job, end to end against local counterparts."""
from __future__ import annotations

import pytest

from tasks_app import services
from tests.fakes.pages import Site

from ..helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")


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
