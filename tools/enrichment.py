"""Enrichment from a real source: a provider speaking People Data Labs' Person Enrichment API.

`GET {AGENT_ENRICHMENT_URL}/v5/person/enrich?email=...` with `X-Api-Key: AGENT_ENRICHMENT_KEY`
answers 200 with the person's record or 404 for no match. Calls go through the egress policy
(tools.http.request), paced to AGENT_ENRICHMENT_RATE per second; a 429 waits its Retry-After.
The key is read here from the settings and never leaves this module: not in params, results
or messages. Nothing is ever filled in without the provider's answer.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from . import http
from .base import ToolContext
from .config import setting
from .errors import ToolError, TransientToolError

PROVIDER = "peopledatalabs"
# config field name -> the PDL person field it comes from
FIELDS = {
    "linkedin_profile": "linkedin_url", "company_size": "job_company_size", "title": "job_title",
    "company": "job_company_name", "name": "full_name", "first_name": "first_name", "last_name": "last_name",
    "location": "location_name", "industry": "job_company_industry", "company_website": "job_company_website",
    "seniority": "job_title_levels", "role": "job_title_role", "work_email": "work_email",
    "twitter": "twitter_url", "github": "github_url", "facebook": "facebook_url",
}
URL_FIELDS = {"linkedin_url", "twitter_url", "github_url", "facebook_url", "job_company_website"}
MAX_ATTEMPTS = 4  # a 429 or a transient failure is tried this often for one email
MAX_WAIT_S = 30.0  # the longest Retry-After honoured before the email is marked an error
MAX_TRANSPORT_FAILURES = 3  # consecutive emails the provider could not be reached for: stop calling


@dataclass(frozen=True)
class Answer:
    """The provider's answer for one email: matched (with values), not_matched, or error (with why)."""

    status: str
    values: dict[str, Any] = field(default_factory=dict)  # PDL field -> value, only the fields we map
    likelihood: int | None = None
    reason: str = ""
    unreachable: bool = False  # no answer at all (network): the caller stops after a few in a row


class ProviderRefused(ToolError):
    """The provider refused the key (401/403/402): no further email will fare better."""


def known_fields(fields: list[str]) -> list[str]:
    """`fields` if each is one the provider can fill; else a ValueError naming the unknown ones."""
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        raise ValueError(f"unknown enrichment field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    return fields


def configured() -> bool:
    return bool(setting("AGENT_ENRICHMENT_URL", ""))


def rate() -> float:
    return max(0.01, setting("AGENT_ENRICHMENT_RATE", 10.0))


class Pacer:
    """At most `per_second` calls per second; the clock and the sleep are injectable for tests."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval, self.clock, self.sleep = 1.0 / per_second, clock, sleep
        self.next_at = 0.0

    def wait(self, extra_s: float = 0.0) -> None:
        now = self.clock()
        delay = max(self.next_at - now, 0.0) + extra_s
        if delay > 0:
            self.sleep(delay)
        self.next_at = max(now, self.next_at) + extra_s + self.interval


def retry_after(headers: dict[str, str]) -> float:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0  # an HTTP date or nothing: a short pause, then the next attempt


def _values(data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for source in set(FIELDS.values()):
        value = data.get(source)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value if v not in (None, "")) or None
        if isinstance(value, str) and source in URL_FIELDS and value and "://" not in value:
            value = f"https://{value}"  # PDL writes linkedin.com/in/...: a link a person can click
        if value not in (None, "", False):
            out[source] = value
    return out


def lookup(email: str, context: ToolContext, pacer: Pacer) -> Answer:
    """Ask the provider about one email; transient trouble is retried, a 404 is not_matched."""
    base = setting("AGENT_ENRICHMENT_URL", "").rstrip("/")
    key = setting("AGENT_ENRICHMENT_KEY", "")
    url = f"{base}/v5/person/enrich?{urlencode({'email': email})}"
    wait, reason, unreachable = 0.0, "", False
    for _ in range(MAX_ATTEMPTS):
        pacer.wait(wait)
        try:
            body = http.request("GET", url, context, headers={"X-Api-Key": key} if key else {})["body"]
        except http.HTTPStatusError as exc:
            if exc.status == 404:
                return Answer("not_matched")
            if exc.status in (401, 402, 403):
                raise ProviderRefused(f"the enrichment provider refused the request ({exc.status}): check "
                                      "AGENT_ENRICHMENT_KEY and the account's credits") from None
            if exc.status != 429 and not isinstance(exc, TransientToolError):
                return Answer("error", reason=f"the provider answered {exc.status}")
            wait = min(retry_after(exc.headers), MAX_WAIT_S) if exc.status == 429 else 1.0
            reason, unreachable = f"the provider answered {exc.status} {MAX_ATTEMPTS} times", False
        except TransientToolError as exc:  # no answer: connection refused, timeout, DNS
            wait, reason, unreachable = 0.5, str(exc), True
        else:
            return _answer(body)
    return Answer("error", reason=reason, unreachable=unreachable)


def _answer(body: Any) -> Answer:
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        return Answer("error", reason="the provider answered without a person record")
    likelihood = body.get("likelihood")
    return Answer("matched", _values(body["data"]), likelihood if isinstance(likelihood, int) else None)
