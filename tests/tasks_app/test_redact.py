"""Secrets are masked by key, in URLs and by value: in step rows, the trace and the events."""
from __future__ import annotations

import json

import pytest

from tasks_app import services
from tasks_app.models import TaskEvent, TaskExecution
from tasks_app.redact import MASK, redact, redact_output
from tasks_app.selectors import task_trace
from tests.agents.helpers import run_inline
from tests.fakes.pages import Site

SECRET = "brave-secret-4f9a2c"


def test_headers_with_auth_in_their_name_are_masked_but_an_author_is_not():
    masked = redact({"headers": {"X-Custom-Auth": "abc-123-def", "Authorization": "Bearer x"}, "author": "Ada"})
    assert masked == {"headers": {"X-Custom-Auth": MASK, "Authorization": MASK}, "author": "Ada"}


def test_secret_query_parameters_and_url_passwords_are_masked():
    masked = redact({"url": "https://api.example/v1?q=ai&api_key=k-123456&access_token=t-98765",
                     "note": "see postgres://crm:hunter22@db.example/crm for details"})
    assert masked["url"] == f"https://api.example/v1?q=ai&api_key={MASK}&access_token={MASK}"
    assert masked["note"] == f"see postgres://crm:{MASK}@db.example/crm for details"


def test_known_secrets_are_masked_by_value_inside_longer_text(settings):
    settings.WEB_SEARCH_API_KEY = SECRET
    assert redact_output({"text": f"your key is {SECRET}!", "tokens": 12}) == \
        {"text": f"your key is {MASK}!", "tokens": 12}
    assert redact_output("typed hunter2-pass", secrets={"hunter2-pass"}) == f"typed {MASK}"


@pytest.mark.usefixtures("inline_engine")
def test_a_configured_key_a_page_echoes_never_reaches_the_trace(user, settings, loopback_allowed):
    settings.WEB_SEARCH_API_KEY = SECRET
    with Site({"/echo": f"<p>request headers: X-Subscription-Token: {SECRET}</p>"}) as site:
        plan = {"steps": [{"action": "http.get", "params": {"url": f"{site.url}/echo?token=t-1234567&page=2"}}]}
        task = run_inline(services.task_create(user=user, title="echo", plan=plan))
    assert task.status == "completed", task.error
    row = TaskExecution.objects.get(task=task)
    stored = json.dumps([row.input, row.output, task_trace(task), task.result,
                         list(TaskEvent.objects.filter(task=task).values_list("payload", flat=True))])
    assert SECRET not in stored and "t-1234567" not in stored
    assert MASK in json.dumps(row.output) and row.input["url"].endswith(f"/echo?token={MASK}&page=2")
