"""Circuit breakers keyed by what failed: a target's host, a database connection, an owner's account."""
from __future__ import annotations

import time

import pytest

from agents.dispatch import INLINE
from tasks_app import services
from tasks_app.models import Task, TaskExecution, ToolCircuit
from tests.fakes.hn_server import FakeHackerNews
from tools import registry

from .helpers import run_inline

pytestmark = pytest.mark.usefixtures("inline_engine")


def one_get(url: str) -> dict:
    return {"steps": [{"action": "http.get", "params": {"url": url}}]}


def host_of(server: FakeHackerNews) -> str:
    return f"127.0.0.1:{server.server.server_port}"


@pytest.fixture
def grace(django_user_model):
    return django_user_model.objects.create_user(username="grace", email="grace@example.com", password="pw-grace-1")


def test_not_found_answers_never_open_a_circuit(user, grace, hn_server, settings):
    settings.AGENT_CIRCUIT_FAILURES = 2
    for n in range(5):  # the target answers, with a 404: the tool and the host work
        missing = run_inline(services.task_create(user=user, title=f"missing {n}",
                                                  plan=one_get(f"{hn_server.url}/item/none-{n}")))
        assert missing.status == "failed" and "answered 404" in missing.error
    assert not ToolCircuit.objects.exclude(state="closed").exists()
    started = time.monotonic()
    fine = run_inline(services.task_create(user=grace, title="top", plan=one_get(f"{hn_server.url}/topstories.json")))
    assert fine.status == "completed", fine.error
    assert time.monotonic() - started < 5, "nothing waited for a cool-down"


def test_one_hosts_failures_never_delay_another_owners_call_to_another_host(user, grace, hn_server, settings):
    settings.AGENT_MAX_RETRIES, settings.AGENT_CIRCUIT_FAILURES, settings.AGENT_CIRCUIT_COOLDOWN_S = 1, 2, 30
    hn_server.fail_next["/topstories.json"] = [503, 503]
    broken = run_inline(services.task_create(user=user, title="broken",
                                             plan=one_get(f"{hn_server.url}/topstories.json")))
    assert broken.status == "failed" and "answered 503" in broken.error
    circuit = ToolCircuit.objects.get()
    assert (circuit.key, circuit.tool, circuit.state) == (f"http:{host_of(hn_server)}", "http", "open")

    with FakeHackerNews() as other:
        started = time.monotonic()
        fine = run_inline(services.task_create(user=grace, title="other host",
                                               plan=one_get(f"{other.url}/topstories.json")))
        assert fine.status == "completed", fine.error
        assert time.monotonic() - started < 5, "another host's call never waits for this circuit"
        assert other.requests == ["/topstories.json"]

    # the broken host's own circuit still holds its callers back, whoever they are
    requests_before = len(hn_server.requests)
    waiting = services.task_create(user=grace, title="same host", plan=one_get(f"{hn_server.url}/topstories.json"))
    services.task_execute(task=waiting)
    time.sleep(0.5)
    assert Task.objects.get(id=waiting.id).status == "executing" and len(hn_server.requests) == requests_before
    services.task_cancel(task=Task.objects.get(id=waiting.id))
    assert INLINE.wait_idle(timeout=30)


def test_a_timeout_counts_as_a_failure_of_its_host(user, hn_server, settings):
    settings.AGENT_MAX_RETRIES, settings.AGENT_CIRCUIT_FAILURES = 0, 1
    hn_server.delays["/topstories.json"] = 1.0
    plan = {"steps": [{"action": "http.get", "params": {"url": f"{hn_server.url}/topstories.json", "timeoutS": 0.2}}]}
    task = run_inline(services.task_create(user=user, title="slow", plan=plan))
    assert task.status == "failed" and "timed out" in task.error
    assert ToolCircuit.objects.get(key=f"http:{host_of(hn_server)}").state == "open"
    assert TaskExecution.objects.get(task=task).status == "failed"


@pytest.mark.parametrize(("action", "params", "key"), [
    ("http.get", {"url": "https://API.Example.com/v1/items?page=2"}, "http:api.example.com"),
    ("http.get", {"url": "http://127.0.0.1:8081/x"}, "http:127.0.0.1:8081"),
    ("http.getBatch", {"urls": ["https://a.example/1", "https://a.example/2"]}, "http:a.example"),
    ("http.getBatch", {"ids": [1, 2], "urlTemplate": "https://hn.example/item/{id}.json"}, "http:hn.example"),
    ("http.getBatch", {"urls": ["https://a.example/1", "https://b.example/2"]}, "http:owner:7"),
    ("database.query", {"connection": "reporting", "sql": "select 1"}, "database:reporting"),
    ("calendar.list", {}, "calendar:owner:7"),
    ("code.run", {"code": "print(1)"}, "code:owner:7"),
    ("browser.navigate", {"url": "https://shop.example/p/1"}, "browser:shop.example"),
])
def test_each_call_names_its_circuit(action, params, key):
    assert registry.get_action(action).circuit_key(params, 7) == key
