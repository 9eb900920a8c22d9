"""The state machine: allowed transitions only, and races from two connections stay valid."""
import threading

import pytest
from django.db import connection

from tasks_app import leases, lifecycle
from tasks_app.lifecycle import TERMINAL, TRANSITIONS, TransitionNotAllowed
from tasks_app.models import Task, TaskEvent

pytestmark = pytest.mark.django_db(transaction=True)


def make_task(user, status="pending", **fields):
    return Task.objects.create(user=user, title="t", status=status, **fields)


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_every_transition_only_from_its_sources(user, name):
    for status in ["pending", "queued", "planning", "executing", "paused", "awaiting_approval", "completed", "failed",
                   "cancelled"]:
        task = make_task(user, status)
        won = lifecycle.apply(name, task_id=task.id)
        task.refresh_from_db()
        assert won == (status in TRANSITIONS[name].sources)
        assert task.status == (TRANSITIONS[name].target if won else status)


def test_a_refused_transition_names_the_current_status(user):
    task = make_task(user, "completed")
    with pytest.raises(TransitionNotAllowed) as error:
        lifecycle.require("resume", task_id=task.id)
    assert "cannot resume task" in str(error.value) and "it is completed" in str(error.value)


def test_each_won_transition_stores_a_numbered_status_event(user):
    task = make_task(user)
    lifecycle.require("start", task_id=task.id)
    lifecycle.require("planned", task_id=task.id)
    assert not lifecycle.apply("start", task_id=task.id)
    events = list(TaskEvent.objects.filter(task=task).values_list("seq", "payload__status"))
    assert events == [(1, "planning"), (2, "executing")]


def race(*actions):
    """Run the actions at the same moment, each on its own thread and database connection."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index, action):
        barrier.wait()
        try:
            results[index] = action()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def finish_last_step(task_id, token):
    """What the executor does when the last step is recorded: release the lease, then complete."""
    leases.release(task_id, token, current_step=3)
    return lifecycle.apply("complete", task_id=task_id, result={"ok": True})


def test_pause_racing_step_completion_never_leaves_an_invalid_state(user):
    outcomes = set()
    for _ in range(40):
        task = make_task(user, "executing", total_steps=3, current_step=2)
        token = leases.new_token()
        assert leases.take(task.id, token)
        paused, completed = race(lambda t=task.id: lifecycle.apply("pause", task_id=t),
                                 lambda t=task.id, k=token: finish_last_step(t, k))
        task.refresh_from_db()
        assert paused != completed, "exactly one of pause and complete wins"
        assert task.status == ("paused" if paused else "completed")
        assert task.lease_owner is None and task.current_step == 3
        assert (task.completed_at is not None) == completed
        if paused:  # resume finishes it: the last step is not run again
            lifecycle.require("resume", task_id=task.id)
            token = leases.new_token()
            assert leases.take(task.id, token)
            assert finish_last_step(task.id, token)
        outcomes.add("paused-first" if paused else "completed-first")
    print(f"pause vs complete outcomes seen: {sorted(outcomes)}")


def test_cancel_racing_resume_ends_cancelled_and_never_runs_on(user):
    outcomes = set()
    for _ in range(40):
        task = make_task(user, "paused")
        cancelled, resumed = race(lambda t=task.id: lifecycle.apply("cancel", task_id=t),
                                  lambda t=task.id: lifecycle.apply("resume", task_id=t))
        task.refresh_from_db()
        assert cancelled, "cancel wins from paused and from executing alike"
        assert task.status == "cancelled"
        assert not leases.take(task.id, leases.new_token()), "a cancelled task never takes a step"
        outcomes.add("resumed-then-cancelled" if resumed else "cancelled-first")
    print(f"cancel vs resume outcomes seen: {sorted(outcomes)}")


def test_terminal_states_take_no_steps(user):
    for status in TERMINAL:
        task = make_task(user, status)
        assert not leases.take(task.id, leases.new_token())
