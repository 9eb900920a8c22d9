"""email_campaign: personalized emails to an audience chosen at run time (follow-ups, onboarding, reminders).

Two steps: contacts.select picks the audience when the run starts (a trigger such as
trial_day_7, filters, a SQL query, or recipients given by hand), then campaign.send mails
each recipient once per occasion (a delivery ledger). The send step's params hold the whole
recipient list, so the >10-recipient approval asks once for the batch, before the first send.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from tools.contacts import MAX_AUDIENCE, Condition, trigger_conditions
from tools.email import PLACEHOLDER

from ..plan import Plan, PlanError, parse_plan

DAILY_AT_NINE = "0 9 * * *"  # a triggered campaign with no schedule looks for its audience daily, 09:00 UTC
TEMPLATES: dict[str, tuple[str, str]] = {
    "trial_followup": (
        "How is your trial going, {{ name }}?",
        "Hi {{ name }},\n\nYou signed up on {{ signup_date }}. So far you have used: {{ features_used }}.\n"
        "Reply to this email if anything is in your way; we read every answer.\n",
    ),
    "invoice_reminder": (
        "Invoice {{ invoice }} is due",
        "Hi {{ name }},\n\nA friendly reminder that invoice {{ invoice }} is due on {{ due_date }}.\n",
    ),
    "onboarding_welcome": (
        "Welcome aboard, {{ name }}",
        "Hi {{ name }},\n\nWelcome! Here is how to get started: {{ getting_started_url }}\n",
    ),
}


class Recipient(BaseModel):
    model_config = ConfigDict(extra="allow")  # every other key is a personalization field

    email: EmailStr


class Audience(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter: list[Condition] = Field(default_factory=list, max_length=50,
                                    description="conditions over your contacts, e.g. plan eq trial")
    sql: str | None = Field(default=None, max_length=20_000, description="a read-only query with an email column")
    connection: str | None = Field(default=None, max_length=100, description="an AGENT_DATABASES name, for sql")

    @model_validator(mode="after")
    def sql_with_connection(self) -> Audience:
        if (self.sql is None) != (self.connection is None):
            raise ValueError("give audience.sql and audience.connection together")
        return self


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    trigger: str | None = Field(default=None, max_length=100,
                                description="Who is due on the day: trial_day_N (trial plan) or signup_day_N")
    template: str = Field(description=f"A built-in template ({', '.join(TEMPLATES)}) or a body with {{{{ field }}}}")
    subject: str | None = Field(default=None, max_length=998)
    personalization: list[str] = Field(default_factory=list, description="Fields each recipient must have")
    audience: Audience | None = None
    recipients: list[Recipient] = Field(default_factory=list, max_length=MAX_AUDIENCE)
    occasion: str | None = Field(default=None, max_length=60,
                                 description="A fixed ledger key: each contact mailed once ever (default: per "
                                             "trigger day, or per run)")
    from_email: EmailStr | None = Field(default=None, alias="from")
    schedule: str | None = None

    @field_validator("trigger")
    @classmethod
    def known_trigger(cls, value: str | None) -> str | None:
        if value is not None:
            trigger_conditions(value, date.today())  # names the known triggers when it is not one
        return value

    @model_validator(mode="after")
    def complete(self) -> Config:
        for index, recipient in enumerate(self.recipients):
            missing = [f for f in self.personalization if f not in (recipient.model_extra or {})]
            if missing:
                raise ValueError(f"recipients[{index}] ({recipient.email}) lacks {', '.join(missing)}")
        if self.template not in TEMPLATES and not self.subject:
            raise ValueError("a custom template needs a subject")
        return self


def default_schedule(config: dict[str, Any]) -> str | None:
    """agents.schedules asks this when the config names no schedule."""
    return DAILY_AT_NINE if isinstance(config, dict) and config.get("trigger") else None


def build_plan(config: Config, *, goal: str) -> Plan:
    audience = _audience(config)
    if not audience:
        raise PlanError("give the campaign an audience: a trigger (trial_day_N, signup_day_N), audience.filter, "
                        "audience.sql with audience.connection, or recipients")
    subject, template = TEMPLATES.get(config.template, (config.subject or "", config.template))
    subject = config.subject or subject
    needed = sorted({*config.personalization, *_placeholders(subject), *_placeholders(template)} - {"unsubscribe_url"})
    send = {"recipients": "{audience.result.recipients}", "occasion": "{audience.result.occasion}",
            "skipped": "{audience.result.skipped}", "subject": subject, "template": template}
    if config.from_email:
        send["from"] = str(config.from_email)
    steps = [
        {"id": "audience", "action": "contacts.select", "params": {**audience, "require": needed},
         "description": f"Select who is due{f' ({config.trigger})' if config.trigger else ''}"},
        {"id": "send", "action": "campaign.send", "params": send,
         "description": f"Send {config.template if config.template in TEMPLATES else 'the email'} to each, once"},
    ]
    return parse_plan({"steps": steps, "estimatedDuration": 5_000})


def _audience(config: Config) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if config.trigger:
        params["trigger"] = config.trigger
    if config.audience and config.audience.filter:
        params["filter"] = [c.model_dump() for c in config.audience.filter]
    if config.audience and config.audience.sql:
        params.update(sql=config.audience.sql, connection=config.audience.connection)
    if config.recipients:
        params["recipients"] = [{"email": str(r.email), **(r.model_extra or {})} for r in config.recipients]
    if params and config.occasion:
        params["occasion"] = config.occasion
    return params


def _placeholders(text: str) -> set[str]:
    return {m.group(1).strip() for m in PLACEHOLDER.finditer(text)}


def shape_result(outputs: dict[str, Any]) -> dict[str, Any]:
    """{occasion, sent: [emails], skipped: [{email, reason}], failed: [{email, error}], counts}."""
    send = _dict(outputs.get("send"))
    audience = _dict(outputs.get("audience"))
    result = {"occasion": send.get("occasion", audience.get("occasion")), "sent": send.get("sent", []),
              "skipped": send.get("skipped", audience.get("skipped", [])), "failed": send.get("failed", [])}
    result["counts"] = {name: len(result[name]) for name in ("sent", "skipped", "failed")}
    return result


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
