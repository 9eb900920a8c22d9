"""browser_automation: open pages, extract values by selector, alert when a price drops.

The seed's example: {"urls": [...], "selector": ".price", "schedule": "0 9 * * *",
"alertThreshold": 99.99} watches competitor prices and mails the user when one is lower.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..plan import Plan, parse_plan

# Runs in the code sandbox: parse "$1,299.00"-like texts and compare with the threshold.
COMPARE = """
import re
def price(text):
    m = re.search(r"-?\\d[\\d,]*(?:\\.\\d+)?", str(text or ""))
    return float(m.group(0).replace(",", "")) if m else None
found = [{"url": url, "text": text, "price": price(text)} for url, text in zip(inputs["urls"], inputs["values"])]
threshold = inputs.get("threshold")
below = [f for f in found if threshold is not None and f["price"] is not None and f["price"] < threshold]
lines = [f"{f['url']}: {f['text']}" for f in below]
result = {"prices": found, "alert": bool(below), "below": below,
          "message": "Lower than %s:\\n" % threshold + "\\n".join(lines) if below else ""}
"""


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    urls: list[str] = Field(default_factory=list, max_length=20)
    url: str | None = Field(default=None, description="One URL (the seed's create-task example)")
    selector: str = Field(min_length=1, max_length=1000)
    attribute: str | None = Field(default=None, max_length=200)
    alert_threshold: float | None = Field(default=None, alias="alertThreshold")
    screenshot: bool = False
    schedule: str | None = None

    @model_validator(mode="after")
    def some_url(self) -> Config:
        self.urls = [_absolute(u) for u in ([self.url] if self.url else []) + self.urls]
        if not self.urls:
            raise ValueError("give url or urls")
        return self


def _absolute(url: str) -> str:
    """The seed writes 'competitor.com/pricing': a bare host means https."""
    return url if "://" in url else f"https://{url}"


def build_plan(config: Config, *, goal: str) -> Plan:
    steps: list[dict[str, Any]] = []
    extracted: list[str] = []
    for url in config.urls:
        steps.append({"action": "browser.navigate", "description": f"Open {url}", "params": {"url": url}})
        extract = {"selector": config.selector, **({"attribute": config.attribute} if config.attribute else {})}
        steps.append({"action": "browser.extract", "description": f"Extract {config.selector}", "params": extract})
        extracted.append(f"{{step{len(steps)}.result}}")
        if config.screenshot:
            steps.append({"action": "browser.screenshot", "description": f"Screenshot of {url}", "params": {}})
    if config.alert_threshold is None:
        return parse_plan({"steps": steps, "estimatedDuration": 10_000 * len(config.urls)})
    steps.append({"action": "code.run", "description": f"Compare prices with {config.alert_threshold}",
                  "params": {"code": COMPARE, "inputs": {"urls": config.urls, "values": extracted,
                                                         "threshold": config.alert_threshold}}})
    compare = f"step{len(steps)}"
    steps.append({"action": "email.send", "description": "Alert: a price is below the threshold",
                  "when": f"{{{compare}.result.result.alert}}",
                  "params": {"to": "{user.email}", "subject": f"Price alert: {goal.splitlines()[0][:120]}",
                             "body": f"{{{compare}.result.result.message}}"}})
    return parse_plan({"steps": steps, "estimatedDuration": 10_000 * len(config.urls) + 5_000})


def shape_result(outputs: dict[str, Any]) -> dict[str, Any]:
    compare = next((o["result"] for o in outputs.values() if isinstance(o, dict) and "prices" in (o.get("result")
                                                                                                 or {})), None)
    values = [o for key, o in outputs.items() if not isinstance(o, dict)]
    return {"values": values, **({"prices": compare["prices"], "alert": compare["alert"]} if compare else {})}
