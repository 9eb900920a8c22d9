"""The task creation wizard's form: parses the page's fields into services.task_create's arguments.

It checks only what the page adds (JSON text, sizes); the services validate the task itself
(agent type, its config schema, the plan, the schedule) and their errors land on the field.
"""
from __future__ import annotations

import json
from typing import Any

from django import forms

from . import json_depth
from .models import Priority

MAX_JSON_BYTES = 64 * 1024
FREE_FORM, EXPLICIT_PLAN = "free_form", "plan"
KINDS = [
    ("research", "Research: sources and keywords into a report"),
    ("browser_automation", "Browser automation: watch prices on web pages"),
    ("email_campaign", "Email campaign: personalized emails to recipients"),
    ("data_processing", "Data processing: load, clean, transform and enrich rows"),
    (FREE_FORM, "Free-form goal: the model plans it (needs a real LLM provider)"),
    (EXPLICIT_PLAN, "Explicit plan: steps written as JSON"),
]
# The seed's example tasks, made runnable (a campaign needs recipients, a data file a URL).
EXAMPLES: dict[str, dict[str, Any]] = {
    "research": {"title": "Weekly report on AI automation trends",
                 "config": {"sources": ["google_news", "reddit", "hackernews"],
                            "keywords": ["AI automation", "AI agents", "workflow automation"],
                            "format": "markdown_report", "schedule": "0 9 * * 1"}},
    "browser_automation": {"title": "Check competitor pricing daily and alert if lower than ours",
                           "config": {"urls": ["competitor1.com/pricing", "competitor2.com/pricing"],
                                      "selector": ".price", "schedule": "0 9 * * *", "alertThreshold": 99.99}},
    "email_campaign": {"title": "Send personalized follow-up emails to trial users on day 7",
                       "config": {"trigger": "trial_day_7", "template": "trial_followup",  # audience: your contacts
                                  "personalization": ["name", "signup_date", "features_used"]}},
    "data_processing": {"title": "Enrich lead list with LinkedIn data and save to CRM",
                        "config": {"input": "leads.csv",  # an uploaded file (POST /api/files), or a URL
                                   "enrichment": ["linkedin_profile", "company_size", "title"],
                                   "output": "crm_database"}},
    FREE_FORM: {"title": "Find three articles about workflow automation and summarize them", "config": None},
    EXPLICIT_PLAN: {"title": "Daily HN Summary", "config": None},
}
EXAMPLE_PLAN: dict[str, Any] = {"steps": [
    {"action": "http.get", "params": {"url": "https://hacker-news.firebaseio.com/v0/topstories.json"}},
    {"action": "http.getBatch", "params": {"ids": "{step1.result.slice(0,5)}"}},
    {"action": "ai.summarize", "params": {"items": "{step2.result}"}},
    {"action": "email.send", "params": {"to": "{user.email}", "subject": "Your Daily HN Summary",
                                        "body": "{step3.result}"}},
], "estimatedCredits": 500, "estimatedDuration": 30000}
# services.InvalidTask.field (the API's wire name) -> the form field that shows it.
FIELD_OF = {"agentType": "kind", "agentConfig": "agent_config", "plan": "plan", "title": "title",
            "description": "description", "priority": "priority"}


def _json_object(text: str, name: str) -> dict[str, Any] | None:
    if not text.strip():
        return None
    if len(text.encode()) > MAX_JSON_BYTES:
        raise forms.ValidationError(f"{name} must be at most {MAX_JSON_BYTES} bytes of JSON")
    try:
        value = json_depth.loads(text)
    except json_depth.TooDeep as exc:
        raise forms.ValidationError(f"{name}: {exc}") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise forms.ValidationError(f"{name} is not valid JSON: {exc.msg} ({where})") from None
    if not isinstance(value, dict):
        raise forms.ValidationError(f"{name} must be a JSON object ({{...}})")
    if "\x00" in text or "\\u0000" in text:
        raise forms.ValidationError(f"{name} must not contain NUL characters")
    return value


def json_object(text: str, name: str) -> dict[str, Any] | None:
    """The text as a JSON object (None when blank); forms.ValidationError says what is wrong."""
    return _json_object(text, name)


# How the wizard draws a field the schema alone cannot say: a cron schedule, a pick of your uploads.
WIDGETS = {"schedule": "cron"}
TYPE_WIDGETS = {"data_processing": {"input": "upload"}}


def wizard_schemas() -> dict[str, Any]:
    """Each agent type's config schema (the one its config is validated with), with the wizard's hints."""
    from agents.types import load

    schemas = {}
    for kind, _ in KINDS[:4]:
        schema = load(kind).Config.model_json_schema(by_alias=True)
        widgets = {**WIDGETS, **TYPE_WIDGETS.get(kind, {})}
        for name, prop in schema.get("properties", {}).items():
            if name in widgets:
                prop["x-widget"] = widgets[name]
        schemas[kind] = schema
    return schemas


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2) if value is not None else ""


class TaskWizardForm(forms.Form):
    kind = forms.ChoiceField(label="Agent type", choices=KINDS, widget=forms.RadioSelect, initial="research")
    agent_config = forms.CharField(label="Configuration (JSON)", required=False,  # the fields fill it in
                                   widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}))
    plan = forms.CharField(label="Plan (JSON)", required=False,
                           widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false"}))
    title = forms.CharField(max_length=200)
    description = forms.CharField(label="Description / goal", max_length=20_000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.MEDIUM)
    run_now = forms.BooleanField(label="Start it now", required=False, initial=True)

    def clean_agent_config(self) -> dict[str, Any] | None:
        return _json_object(self.cleaned_data.get("agent_config", ""), "the configuration")

    def clean_plan(self) -> dict[str, Any] | None:
        return _json_object(self.cleaned_data.get("plan", ""), "the plan")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == EXPLICIT_PLAN and not data.get("plan") and "plan" not in self.errors:
            self.add_error("plan", "an explicit plan needs its steps, e.g. {\"steps\": [...]}")
        return data

    def create_kwargs(self) -> dict[str, Any]:
        """services.task_create's arguments: only the parts the chosen kind uses."""
        data, kind = self.cleaned_data, self.cleaned_data["kind"]
        typed = kind not in (FREE_FORM, EXPLICIT_PLAN)
        return {"title": data["title"], "description": data["description"] or None,
                "agent_type": kind if typed else None, "agent_config": data["agent_config"] if typed else None,
                "plan": data["plan"] if kind == EXPLICIT_PLAN else None, "priority": data["priority"]}

    def show_service_error(self, field: str, message: str) -> None:
        self.add_error(FIELD_OF.get(field), message)


def initial_form() -> TaskWizardForm:
    example = EXAMPLES["research"]
    return TaskWizardForm(initial={"title": example["title"], "agent_config": pretty(example["config"]),
                                   "plan": pretty(EXAMPLE_PLAN)})
