"""research's report as Markdown: a title, the window, an overview, a section per keyword.

Every item line is written from the data found (source, title, link, date, a line of its
own text); only the overview may come from a model. Pure text building, nothing else.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

SOURCE_NAMES = {"hackernews": "Hacker News", "reddit": "reddit", "google_news": "Google News", "web": "the web"}
SUMMARY_CHARS = 200


def source_name(source: str) -> str:
    return SOURCE_NAMES.get(source, source)


def _date(value: str | None) -> str:
    return value[:10] if value else "undated"


def _day(value: str) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return f"{moment.day} {moment:%b %Y}"


def _link(title: str, url: str) -> str:
    text = re.sub(r"([\[\]\\*_`])", r"\\\1", title)
    return f"[{text}]({url.replace(' ', '%20').replace('(', '%28').replace(')', '%29')})"


def one_line(item: dict[str, Any]) -> str:
    """The item's own first sentence, or what the data says about it (points, where it was seen)."""
    snippet = " ".join((item.get("snippet") or "").split())
    if snippet:
        sentence = re.split(r"(?<=[.!?])\s+", snippet)[0]
        return sentence if len(sentence) <= SUMMARY_CHARS else sentence[: SUMMARY_CHARS - 1].rstrip() + "…"
    seen = [source_name(s) for s in dict.fromkeys([item["source"], *(item.get("sources") or [])])]
    facts = f"{item['score']} points on {seen[0]}" if item.get("score") is not None else f"On {seen[0]}"
    if item.get("publisher"):
        facts += f" ({item['publisher']})"
    return facts + (f"; also on {', '.join(seen[1:])}" if len(seen) > 1 else "") + "."


def _item(number: int, item: dict[str, Any]) -> str:
    facts = [source_name(item["source"]) + (f" ({item['publisher']})" if item.get("publisher") else ""),
             _date(item.get("date"))]
    if item.get("score") is not None:
        facts.append(f"{item['score']} points")
    return (f"{number}. **{_link(item['title'], item['url'])}**  \n"
            f"   {' · '.join(facts)}  \n   {one_line(item)}")


def _heading(title: str, research: dict[str, Any]) -> list[str]:
    window, count = research["window"], len(research["items"])
    sources = sorted({s for i in research["items"] for s in i.get("sources") or [i["source"]]})
    names = [source_name(s) for s in sources] or ["no source"]
    listed = f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else names[0]
    return [f"# {title}", "",
            f"{_day(window['from'])} – {_day(window['to'])} · {count} {'story' if count == 1 else 'stories'} "
            f"from {listed}", ""]


def _errors(research: dict[str, Any]) -> list[str]:
    errors = research.get("sourceErrors") or []
    if not errors:
        return []
    lines = [f"- {source_name(e['source'])} for \"{e['keyword']}\": {e['error']}" for e in errors]
    return ["## Sources that did not answer", "", *lines, ""]


def render(title: str, research: dict[str, Any], overview: str, *, format: str) -> str:
    """The whole report: per-keyword sections (markdown_report) or the short form (summary)."""
    lines = [*_heading(title, research), "## Overview", "", overview.strip() or "Nothing new in this window.", ""]
    items = research["items"]
    if format == "summary":  # the short form: the overview and how much each keyword found
        counts = " · ".join(f"{k}: {sum(i['keyword'] == k for i in items)}" for k in research["keywords"])
        lines += [f"Stories per keyword: {counts}", ""]
    else:
        for keyword in research["keywords"]:
            mine = [i for i in items if i["keyword"] == keyword]
            lines += [f"## {keyword} ({len(mine)})", ""]
            lines += [_item(n, i) for n, i in enumerate(mine, start=1)] or ["_Nothing new in this window._"]
            lines.append("")
    return "\n".join(lines + _errors(research)).rstrip() + "\n"


def file_name(title: str, research: dict[str, Any]) -> str:
    """'Weekly report on AI automation trends' -> 'weekly-report-on-ai-automation-trends-2026-12-02.md'."""
    slug = "-".join(re.sub(r"[^a-z0-9]+", " ", title.lower()).split())[:80].strip("-") or "research-report"
    return f"{slug}-{research['window']['to'][:10]}.md"
