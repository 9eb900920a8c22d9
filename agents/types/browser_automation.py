"""browser_automation: watch prices on pages, remember them, alert when one drops or changes.

The seed's example: {"urls": [...], "selector": ".price", "schedule": "0 9 * * *",
"alertThreshold": 99.99} watches competitor prices and mails the user when one is lower;
its API example ({"url": ..., "selector": ...}, "alert if price changes") has no threshold,
so it alerts when a price changed since the last run.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from tools.prices import MAX_URLS, AlertConfig, check_url

from ..plan import Plan, parse_plan


class Config(AlertConfig):
    urls: list[str] = Field(default_factory=list, max_length=MAX_URLS)
    url: str | None = Field(default=None, description="One URL (the seed's create-task example)")
    selector: str = Field(min_length=1, max_length=1000)
    attribute: str | None = Field(default=None, max_length=200)
    screenshot: bool = False
    schedule: str | None = None

    @field_validator("urls")
    @classmethod
    def valid_urls(cls, urls: list[str]) -> list[str]:
        return [check_url(u) for u in urls]

    @field_validator("url")
    @classmethod
    def valid_url(cls, url: str | None) -> str | None:
        return None if url is None else check_url(url)

    @model_validator(mode="after")
    def some_url(self) -> Config:
        # Scheme-less URLs stay as written: prices.check tries https, then http.
        self.urls = list(dict.fromkeys(([self.url] if self.url else []) + self.urls))
        if not self.urls:
            raise ValueError("give url or urls")
        return self


def build_plan(config: Config, *, goal: str) -> Plan:
    """One prices.check per page, all at once (none waits for another), then prices.combine
    merges them into the one result a check of every page gives, then the alert mail."""
    alerting = config.model_dump(by_alias=True, exclude_none=True,
                                 include={"alert_threshold", "our_price", "alert_on_change", "currency"})
    reading = config.model_dump(by_alias=True, exclude_none=True, include={"selector", "attribute", "screenshot"})
    pages = [f"step{n}" for n in range(1, len(config.urls) + 1)]
    steps: list[dict[str, Any]] = [
        {"action": "prices.check", "description": f"Read {config.selector} on {url}", "dependsOn": [],
         "params": {"urls": [url], **reading, **alerting, "failWhenNoneRead": False,
                    # each step starts from the same browser session: the count is the page's place
                    **({"screenshotNumber": n} if config.screenshot else {})}}
        for n, url in enumerate(config.urls, start=1)
    ]
    steps += [
        {"id": "combined", "action": "prices.combine", "dependsOn": pages,
         "description": f"Decide the alert over the {len(pages)} page(s)",
         "params": {"checks": [f"{{{page}.result}}" for page in pages], **alerting}},
        {"id": "email", "action": "email.send", "description": "Alert: prices below the threshold or changed",
         "when": "{combined.result.alert}",
         "params": {"to": "{user.email}", "subject": f"Price alert: {(goal.splitlines() or [''])[0][:120]}",
                    "body": "{combined.result.message}"}},
    ]
    # The pages are read at the same time: a page's 10 s, then the mail's 5 s.
    return parse_plan({"steps": steps, "estimatedDuration": 10_000 + 5_000})


def shape_result(outputs: dict[str, Any]) -> dict[str, Any]:
    """The combined check's per-page entries and alert decision, the values read, and whether mail went out."""
    check = outputs.get("combined")
    if not isinstance(check, dict) or "pages" not in check:
        return {"pages": [], "alert": False, "alerted": [], "values": [], "prices": []}
    email = outputs.get("email")
    emailed = isinstance(email, dict) and not email.get("skipped")
    pages = check["pages"]
    return {**check, "emailed": emailed, "values": [p["text"] for p in pages],
            "prices": [{k: p[k] for k in ("url", "text", "price", "currency")} for p in pages]}
