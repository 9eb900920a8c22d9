"""The seed's agent-type example shape ({"type", "goal", "config"}) is a create-task body as written."""
from __future__ import annotations

import pytest

from tasks_app.models import Task

pytestmark = pytest.mark.django_db

TASKS = "/api/workspace/tasks"
SEED_RESEARCH = {
    "type": "research",
    "goal": "Weekly report on AI automation trends",
    "config": {
        "sources": ["google_news", "reddit", "hackernews"],
        "keywords": ["AI automation", "AI agents", "workflow automation"],
        "format": "markdown_report",
        "schedule": "0 9 * * 1",
    },
}


def test_the_seed_example_is_mapped_to_agent_type_goal_and_config(api):
    response = api.post(TASKS, SEED_RESEARCH, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["agentType"] == "research" and body["agentConfig"] == SEED_RESEARCH["config"]
    assert body["title"] == "Weekly report on AI automation trends" and body["description"] is None
    task = Task.objects.get(id=body["id"])
    assert task.agent_config["keywords"] == ["AI automation", "AI agents", "workflow automation"]


def test_a_long_goal_keeps_its_whole_text_in_the_description(api):
    goal = "Check competitor pricing daily\nand alert me when one is lower than ours"
    response = api.post(TASKS, {"type": "research", "goal": goal, "config": {}}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["title"] == "Check competitor pricing daily"
    assert response.json()["description"] == goal


def test_a_title_beside_the_goal_makes_the_goal_the_description(api):
    response = api.post(TASKS, {"title": "Weekly AI", **SEED_RESEARCH}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["title"] == "Weekly AI"
    assert response.json()["description"] == SEED_RESEARCH["goal"]


@pytest.mark.parametrize(("body", "field", "words"), [
    ({**SEED_RESEARCH, "agentType": "research"}, "type", "not both"),
    ({**SEED_RESEARCH, "agentConfig": {}}, "config", "not both"),
    ({**SEED_RESEARCH, "goal": ""}, "goal", "non-empty"),
    ({**SEED_RESEARCH, "goal": 7}, "goal", "non-empty"),
    ({**SEED_RESEARCH, "description": "d"}, "goal", "not both"),
    ({**SEED_RESEARCH, "type": "astrology"}, "agentType", "unknown agent type"),
    ({**SEED_RESEARCH, "config": "sources=hn"}, "agentConfig", "dictionary"),
])
def test_a_bad_seed_shaped_body_names_its_field(api, body, field, words):
    response = api.post(TASKS, body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"] and words in str(error["fields"][field]), error
    assert not Task.objects.exists()


def test_patch_takes_the_seed_names_too(api):
    task_id = api.post(TASKS, SEED_RESEARCH, format="json").json()["id"]
    response = api.patch(f"{TASKS}/{task_id}", {"config": {**SEED_RESEARCH["config"], "count": 3}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["agentConfig"]["count"] == 3
