"""One user's files are not another's: bob's task cannot attach or edit alice's screenshot by its path."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from agents.toolcontext import build_tool_context
from tasks_app.models import Task
from tests.fakes.pages import Site
from tools.errors import ToolInputError
from tools.registry import get_action

PAGE = "<title>Payroll</title><h1 style='font-size:80px'>Alice's payroll: $12,345</h1>"


@pytest.fixture
def alice_and_bob(django_user_model, settings, tmp_path, loopback_allowed):
    settings.MEDIA_ROOT = tmp_path / "media"
    alice = django_user_model.objects.create_user(username="alice", email="alice@example.com", password="pw-a-1234")
    bob = django_user_model.objects.create_user(username="bob", email="bob@example.com", password="pw-b-1234")
    return (Task.objects.create(user=alice, title="payroll check", status="executing", attempts=1),
            Task.objects.create(user=bob, title="send a report", status="executing", attempts=1))


def alices_screenshot(task: Task) -> Path:
    """A real screenshot, taken by alice's task with the browser tool."""
    context = build_tool_context(task, 1)
    with Site({"/payroll": PAGE}) as site:
        get_action("browser.navigate").run({"url": f"{site.url}/payroll"}, context)
        shot = get_action("browser.screenshot").run({}, context)
    path = Path(shot["path"])
    assert Image.open(path).format == "PNG"
    return path


@pytest.mark.browser
@pytest.mark.django_db
def test_bobs_task_cannot_use_alices_screenshot_by_its_path(alice_and_bob, smtp_sink):
    alice_task, bob_task = alice_and_bob
    screenshot = alices_screenshot(alice_task)
    bob = build_tool_context(bob_task, 1)
    relative = f"../{alice_task.user_id}/{screenshot.parent.name}/{screenshot.name}"

    for path in (str(screenshot), relative):
        with pytest.raises(ToolInputError, match="outside the task's artifacts directory"):
            get_action("email.send").run({"to": "bob@example.com", "subject": "look", "body": "attached",
                                          "attachments": [{"path": path}]}, bob)
        with pytest.raises(ToolInputError, match="outside the task's artifacts directory"):
            get_action("image.resize").run({"path": path, "width": 50}, bob)
    assert smtp_sink.messages == []
    assert not (bob.artifacts_dir / bob_task.id).exists()  # no resized copy of alice's page for bob

    alice = build_tool_context(alice_task, 2)  # her own task may still mail her own screenshot
    get_action("email.send").run({"to": "alice@example.com", "subject": "look", "body": "attached",
                                  "attachments": [{"path": str(screenshot)}]}, alice)
    [message] = smtp_sink.messages
    assert [part.get_filename() for part in message.iter_attachments()] == [screenshot.name]


@pytest.mark.django_db
def test_each_owner_has_a_folder_of_their_own(alice_and_bob, settings):
    alice_task, bob_task = alice_and_bob
    alice, bob = build_tool_context(alice_task, 1), build_tool_context(bob_task, 1)

    assert alice.artifacts_dir == settings.MEDIA_ROOT / "artifacts" / str(alice_task.user_id)
    assert bob.artifacts_dir == settings.MEDIA_ROOT / "artifacts" / str(bob_task.user_id)
    chart = get_action("image.chart").run({"labels": ["a"], "series": [{"name": "s", "values": [1]}]}, alice)
    assert Path(chart["path"]).is_relative_to(alice.artifacts_dir / alice_task.id)
