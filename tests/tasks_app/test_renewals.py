"""The process's renewal thread keeps a long call's lease alive, and stops renewing when the call ends."""
from __future__ import annotations

import time

import pytest

from tasks_app import leases, renewals
from tasks_app.models import Task, TaskStatus


@pytest.fixture
def short_leases(settings):
    settings.AGENT_LEASE_SECONDS = 1  # renewed every third of a second


def test_a_call_longer_than_its_lease_keeps_it_and_stops_renewing_after(transactional_db, user, short_leases):
    task = Task.objects.create(user=user, title="long call", status=TaskStatus.EXECUTING)
    token = leases.new_token()
    assert leases.take(task.id, token)
    with leases.keep_alive(task.id, token):
        time.sleep(2.5)  # two and a half lease periods
        assert not leases.take(task.id, leases.new_token())  # still ours: another worker is refused
        renewed = Task.objects.get(id=task.id).heartbeat_at
    time.sleep(0.8)
    assert Task.objects.get(id=task.id).heartbeat_at == renewed  # not renewed once the call ended
    time.sleep(0.5)
    assert leases.take(task.id, leases.new_token())  # lapsed: the next worker may take it


def test_each_registration_is_renewed_when_due_and_only_while_registered(short_leases):
    calls: dict[str, int] = {"a": 0, "b": 0}
    with renewals.renewing(lambda: calls.__setitem__("a", calls["a"] + 1)):
        time.sleep(0.5)
        with renewals.renewing(lambda: calls.__setitem__("b", calls["b"] + 1)):
            time.sleep(0.5)
        after_b = calls["b"]
        time.sleep(0.4)
    assert calls["a"] >= 2 and 1 <= after_b <= 2 and calls["b"] == after_b
    with renewals.renewing(lambda: calls.__setitem__("a", calls["a"] + 100)):
        pass  # a fast call is never renewed: it ends long before a third of its lease
    time.sleep(0.4)
    assert calls["a"] < 100
