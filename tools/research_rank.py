"""research's judgement over found results: the time window, duplicates, and the ranking.

Pure functions over search results ({title, url, snippet, score, time, source} plus the
keyword and position that found them); no network, no clock of its own (callers pass `now`).
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

WINDOW = re.compile(r"^\s*(\d{1,4})\s*(m|h|d|w)\s*$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_WINDOW = timedelta(days=366)
TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|mc_cid|mc_eid)$", re.I)
SCORED_SOURCES = {"hackernews", "reddit"}  # points / upvotes; the others rank by their own order
TITLE_SIMILARITY = 0.9  # difflib ratio of two normalized titles that name the same story
WEIGHTS = {"popularity": 0.45, "recency": 0.35, "relevance": 0.20}


class WindowError(ValueError):
    """A window that is not a number with a unit (m, h, d, w), or longer than a year."""


def parse_window(text: str) -> timedelta:
    """'7d' -> 7 days; '24h', '90m', '2w' likewise."""
    match = WINDOW.match(text)
    if not match:
        raise WindowError(f"window {text!r} is not a length like '7d', '24h', '90m' or '2w'")
    length = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    if not timedelta(0) < length <= MAX_WINDOW:
        raise WindowError(f"window {text!r} must be longer than nothing and at most 366 days")
    return length


def format_window(length: timedelta) -> str:
    """The shortest exact spelling: 7 days -> '7d', 36 hours -> '36h'."""
    minutes = int(length.total_seconds() // 60)
    for unit, size in (("d", 24 * 60), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def normalize_url(url: str) -> str:
    """The same page however it was linked: scheme and host in lower case, no www., no
    default port, no trailing slash, no fragment, no tracking parameters (utm_*), sorted query."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port if parts.port and parts.port not in (80, 443) else None
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING.match(k))
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), f"{host}:{port}" if port else host, path, urlencode(query), ""))


def title_key(title: str) -> str:
    """Lower case, accents folded, punctuation gone: 'AI Agents — at Work!' -> 'ai agents at work'."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded).split())


def same_title(a: str, b: str) -> bool:
    if a == b:
        return True
    matcher = SequenceMatcher(None, a, b)
    return matcher.real_quick_ratio() >= TITLE_SIMILARITY and matcher.ratio() >= TITLE_SIMILARITY


def parse_time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def in_window(result: dict[str, Any], start: datetime, end: datetime) -> bool:
    """Dated results must fall inside; undated ones (some web pages) are kept, ranked as old."""
    moment = parse_time(result.get("time"))
    return moment is None or start <= moment <= end + timedelta(minutes=5)  # a little clock skew


@dataclass
class Story:
    """One story however many searches found it: the best-known copy and where else it was seen."""

    result: dict[str, Any]
    popularity: float
    keywords: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def absorb(self, other: Story) -> None:
        """Keep the more popular copy's title and link; remember every keyword and source."""
        if other.popularity > self.popularity:
            snippet = self.result.get("snippet")
            self.result, self.popularity = other.result, other.popularity
            self.result["snippet"] = self.result.get("snippet") or snippet
        self.keywords += [k for k in other.keywords if k not in self.keywords]
        self.sources += [s for s in other.sources if s not in self.sources]


def popularity(results: list[dict[str, Any]]) -> list[float]:
    """0..1 per result: log-scaled points against the best of the same source, or, for
    sources without points, half of the position in the source's own order."""
    best: dict[str, float] = {}
    for r in results:
        if r["source"] in SCORED_SOURCES and (r.get("score") or 0) > 0:
            best[r["source"]] = max(best.get(r["source"], 0.0), math.log1p(r["score"]))
    scores = []
    for r in results:
        if r["source"] in SCORED_SOURCES:
            top = best.get(r["source"])
            scores.append(math.log1p(max(r.get("score") or 0, 0)) / top if top else 0.0)
        else:
            scores.append(0.5 * (1 - r.get("position", 0) / max(r.get("batchSize", 1), 1)))
    return scores


def deduplicate(results: list[dict[str, Any]]) -> list[Story]:
    """Merge results that are the same story: the same normalized URL or a near-identical title."""
    stories: list[Story] = []
    by_url: dict[str, Story] = {}
    for result, pop in zip(results, popularity(results), strict=True):
        story = Story(result, pop, [result["keyword"]], [result["source"]])
        url_key, key = normalize_url(result["url"]), title_key(result["title"])
        twin = by_url.get(url_key) or next((s for s in stories if same_title(title_key(s.result["title"]), key)),
                                           None)
        if twin is None:
            stories.append(story)
            twin = story
        else:
            twin.absorb(story)
        by_url[url_key] = by_url[normalize_url(twin.result["url"])] = twin
    return stories


def relevance(story: Story, keyword: str) -> float:
    """1 for the keyword as a phrase in the title, 0.8 in the snippet, else the share of its words."""
    title, snippet, phrase = (title_key(story.result["title"]), title_key(story.result.get("snippet") or ""),
                              title_key(keyword))
    if f" {phrase} " in f" {title} ":
        return 1.0
    if f" {phrase} " in f" {snippet} ":
        return 0.8
    words = phrase.split()
    text = set(f"{title} {snippet}".split())
    return 0.6 * sum(w in text for w in words) / max(len(words), 1)


def best_keyword(story: Story, keywords: list[str]) -> tuple[str, float]:
    """The keyword whose section the story belongs to (most relevant; the earlier on a tie)."""
    found = [k for k in keywords if k in story.keywords] or story.keywords
    scored = [(relevance(story, k), -keywords.index(k) if k in keywords else 0, k) for k in found]
    score, _, keyword = max(scored)
    return keyword, score


def rank(story: Story, relevance_score: float, start: datetime, end: datetime) -> float:
    moment = parse_time(story.result.get("time"))
    span = (end - start).total_seconds() or 1
    recency = max(0.0, min(1.0, 1 - (end - moment).total_seconds() / span)) if moment else 0.0
    value = (WEIGHTS["popularity"] * story.popularity + WEIGHTS["recency"] * recency
             + WEIGHTS["relevance"] * relevance_score)
    return round(value, 4)
