"""email_campaign: personalized emails to a list of recipients (follow-ups, reminders, onboarding).

One email.send step per recipient, each with its own idempotency key, so a retry or a
crash never mails anyone twice. Sending to more than 10 recipients is an approval case.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from ..plan import MAX_STEPS, Plan, parse_plan

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


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    trigger: str | None = Field(default=None, max_length=100, description="What starts a run, e.g. trial_day_7")
    template: str = Field(description=f"A built-in template ({', '.join(TEMPLATES)}) or a body with {{{{ field }}}}")
    subject: str | None = Field(default=None, max_length=998)
    personalization: list[str] = Field(default_factory=list, description="Fields each recipient must have")
    recipients: list[Recipient] = Field(default_factory=list, max_length=MAX_STEPS)
    schedule: str | None = None

    @model_validator(mode="after")
    def complete_recipients(self) -> Config:
        for index, recipient in enumerate(self.recipients):
            missing = [f for f in self.personalization if f not in (recipient.model_extra or {})]
            if missing:
                raise ValueError(f"recipients[{index}] ({recipient.email}) lacks {', '.join(missing)}")
        if self.template not in TEMPLATES and not self.subject:
            raise ValueError("a custom template needs a subject")
        return self


def build_plan(config: Config, *, goal: str) -> Plan:
    if not config.recipients:
        from ..plan import PlanError

        raise PlanError("agentConfig.recipients is empty: give the campaign at least one recipient")
    subject, template = TEMPLATES.get(config.template, (config.subject or "", config.template))
    steps = [
        {"action": "email.send", "description": f"Send {config.template} to {r.email}",
         "params": {"to": [r.email], "subject": config.subject or subject, "template": template,
                    "personalization": {k: _text(v) for k, v in (r.model_extra or {}).items()}}}
        for r in config.recipients
    ]
    return parse_plan({"steps": steps, "estimatedDuration": 2_000 * len(steps)})


def _text(value: Any) -> str | int | float:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value if isinstance(value, (str, int, float)) else str(value)


def shape_result(outputs: dict[str, Any]) -> dict[str, Any]:
    sent = [o for o in outputs.values() if isinstance(o, dict) and not o.get("skipped")]
    return {"sent": len(sent), "recipients": [to for o in sent for to in o.get("to", [])]}
