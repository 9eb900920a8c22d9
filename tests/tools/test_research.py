"""research tool: gather (one search per keyword per source, window, dedupe, ranking) and report,
against local servers speaking Algolia HN Search, reddit's search.json and Google News RSS."""
from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.hn_server import FakeHackerNews
from tests.fakes.news_sources import FakeNewsSites, a_week_of_ai_news
from tools.errors import ToolError, ToolInputError
from tools.research import tool
from tools.research_rank import normalize_url, parse_window

KEYWORDS = ["AI automation", "AI agents", "workflow automation"]
SOURCES = ["google_news", "reddit", "hackernews"]


@pytest.fixture
def sources(settings, loopback_allowed):
    with FakeHackerNews([]) as hn, FakeNewsSites() as sites:
        a_week_of_ai_news(hn, sites)
        settings.HACKERNEWS_API_URL, settings.HACKERNEWS_SEARCH_URL = hn.url, hn.search_url
        settings.REDDIT_API_URL, settings.GOOGLE_NEWS_RSS_URL = sites.url, sites.rss_url
        yield hn, sites


def gather(context, **params):
    return tool.actions["gather"].run({"keywords": KEYWORDS, "sources": SOURCES, **params}, context)


def titles(found, keyword):
    return [i["title"] for i in found["items"] if i["keyword"] == keyword]


def test_each_keyword_is_searched_on_each_source(sources, tool_context):
    hn, sites = sources
    gather(tool_context)
    searched = sorted((path, q["q"][0]) for path, q in sites.requests)
    assert searched == sorted([("/search.json", k) for k in KEYWORDS] + [("/rss/search", f"{k} when:7d")
                                                                           for k in KEYWORDS])
    assert all(q["t"] == ["week"] for path, q in sites.requests if path == "/search.json")
    assert sorted(r.split("query=")[1] for r in hn.requests) == sorted(k.replace(" ", "%20") for k in KEYWORDS)


def test_stories_are_ranked_per_keyword_within_the_week(sources, tool_context):
    found = gather(tool_context)
    assert titles(found, "AI automation") == ["Our AI automation stack for a five-person agency",
                                              "AI automation reshapes back offices"]
    # 90 points four days ago beat 35 points three days ago.
    assert titles(found, "AI agents") == ["AI agents at work: what changed in 2026",
                                          "AI agents for workflow automation, benchmarked",
                                          "AI agents that book meetings for you"]
    assert titles(found, "workflow automation") == ["Show HN: An open-source workflow automation engine",
                                                    "Is workflow automation worth it for small teams?"]
    assert found["byKeyword"] == {"AI automation": 2, "AI agents": 3, "workflow automation": 2}
    assert found["storiesProcessed"] == 7 and found["sourceErrors"] == []
    ranks = [i["rank"] for i in found["items"] if i["keyword"] == "AI agents"]
    assert ranks == sorted(ranks, reverse=True)


def test_the_window_keeps_out_older_stories(sources, tool_context):
    found = gather(tool_context)
    urls = {i["url"] for i in found["items"]}
    assert "https://wire.example/ai-agents-eight-days" not in urls  # Google News sent it; the window dropped it
    assert found["outsideWindow"] == 1
    start, end = (datetime.fromisoformat(found["window"][k].replace("Z", "+00:00")) for k in ("from", "to"))
    assert end - start == timedelta(days=7) and abs(datetime.now(UTC) - end) < timedelta(minutes=1)
    assert found["window"]["length"] == "7d"


def test_a_story_found_twice_is_merged(sources, tool_context):
    found = gather(tool_context)
    [at_work] = [i for i in found["items"] if "agents at work" in i["title"].lower()]
    # Same page (another case, a trailing slash, utm_ tags): kept once, the HN copy with its points.
    assert at_work["source"] == "hackernews" and at_work["score"] == 420
    assert sorted(at_work["sources"]) == ["google_news", "hackernews"]
    [small_teams] = [i for i in found["items"] if "small teams" in i["title"]]
    # Near-identical title, other link: one story, seen on reddit and Google News.
    assert sorted(small_teams["sources"]) == ["google_news", "reddit"]
    # Found by all three HN searches: once, under the keyword it matches best (the phrase in its title).
    [benchmarked] = [i for i in found["items"] if "benchmarked" in i["title"]]
    assert benchmarked["keywords"] == KEYWORDS and benchmarked["keyword"] == "AI agents"
    assert found["duplicatesMerged"] == 4 and found["considered"] == 12


def test_a_failing_search_is_reported_and_the_rest_still_count(sources, tool_context):
    sites = sources[1]
    sites.fail[("/search.json", "AI automation")] = 503
    found = gather(tool_context)
    [error] = found["sourceErrors"]
    assert error["source"] == "reddit" and error["keyword"] == "AI automation" and "503" in error["error"]
    assert titles(found, "AI automation") == ["AI automation reshapes back offices"]
    assert found["byKeyword"]["AI agents"] == 3


def test_every_search_failing_is_an_error(sources, tool_context):
    sites = sources[1]
    for keyword in KEYWORDS:
        sites.fail[("/rss/search", keyword)] = 500
    with pytest.raises(ToolError, match=r"every search failed: google_news \(AI automation\)"):
        gather(tool_context, sources=["google_news"])


def test_a_shorter_window_and_count(sources, tool_context):
    found = gather(tool_context, window="36h", count=1)
    assert [i["title"] for i in found["items"]] == ["AI automation reshapes back offices",
                                                    "AI agents at work: what changed in 2026"]
    assert found["window"]["length"] == "36h"


@pytest.mark.parametrize("window", ["a week", "0d", "400d", "7 days"])
def test_a_bad_window_names_it(tool_context, window):
    with pytest.raises(ToolInputError, match="window"):
        gather(tool_context, window=window)


def test_urls_normalize_to_one_page():
    assert normalize_url("HTTPS://www.Example.com:443/a/b/?utm_source=x&b=2&a=1#top") == \
        "https://example.com/a/b?a=1&b=2"
    assert parse_window("2w") == timedelta(days=14) and parse_window("90m") == timedelta(minutes=90)


def test_the_report_has_a_section_per_keyword(sources, tool_context):
    from agents.llm.offline import OfflineProvider

    tool_context.llm = OfflineProvider()
    found = gather(tool_context)
    out = tool.actions["report"].run({"title": "Weekly report on AI automation trends", "research": found,
                                      "save": False}, tool_context)
    report = out["report"]
    assert report.startswith("# Weekly report on AI automation trends\n")
    assert "## AI automation (2)" in report and "## AI agents (3)" in report and "## workflow automation (2)" in report
    assert ("1. **[Our AI automation stack for a five-person agency](https://agency.example/stack)**  \n"
            "   reddit · ") in report
    assert "We automated invoicing and support triage with AI." in report  # the item's own first sentence
    assert "Google News (Reuters)" in report and "   420 points on Hacker News; also on Google News.\n" in report
    assert "7 stories from Google News, Hacker News and reddit" in report
    assert "offline summary" in out["summary"] and out["reportFile"] is None
    [attachment] = out["attachments"]
    assert attachment["filename"].startswith("weekly-report-on-ai-automation-trends-")
    assert base64.b64decode(attachment["contentBase64"]).decode() == report


def test_the_summary_format_is_shorter(sources, tool_context):
    found = gather(tool_context)
    full = tool.actions["report"].run({"title": "T", "research": found, "save": False}, tool_context)["report"]
    short = tool.actions["report"].run({"title": "T", "research": found, "save": False, "format": "summary"},
                                       tool_context)["report"]
    assert len(short) < len(full) / 2
    assert "Stories per keyword: AI automation: 2 · AI agents: 3 · workflow automation: 2" in short


def test_saving_needs_the_owners_files(sources, tool_context):
    found = gather(tool_context)
    with pytest.raises(ToolError, match="no files store"):
        tool.actions["report"].run({"title": "T", "research": found}, tool_context)
