"""The publishing loop: one per process, reused across calls, started again in a forked child."""
from __future__ import annotations

import asyncio
import os
import threading

import pytest

from tasks_app import publish_loop


async def _where(value: int) -> tuple[int, str]:
    await asyncio.sleep(0)
    return value * 2, threading.current_thread().name


def test_calls_run_on_one_long_lived_loop_thread():
    first, second = publish_loop.run(_where(1), 5), publish_loop.run(_where(2), 5)
    assert first[0] == 2 and second[0] == 4
    assert first[1] == second[1] == "channel-publisher" != threading.current_thread().name


def test_a_forked_child_starts_its_own_loop():
    publish_loop.run(_where(0), 5)  # the parent's loop exists before the fork, as in a prefork worker
    pid = os.fork()
    if pid == 0:  # the child: the parent's loop thread did not survive the fork
        try:
            os._exit(0 if publish_loop.run(_where(21), 5)[0] == 42 else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_call_that_does_not_finish_times_out_and_is_cancelled():
    cancelled = threading.Event()

    async def hang() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        publish_loop.run(hang(), 0.1)
    assert cancelled.wait(5)


def test_sends_run_in_the_order_sent_without_the_sender_waiting(caplog):
    ran: list[int] = []
    release = threading.Event()

    async def record(value: int, wait: bool = False) -> None:
        if wait:  # the first send is slow: the later ones wait behind it, the sender does not
            await asyncio.get_running_loop().run_in_executor(None, release.wait, 5)
        ran.append(value)

    async def fail() -> None:
        raise ConnectionError("redis went away")

    publish_loop.send(record(0, wait=True), 5, "zero")
    publish_loop.send(fail(), 5, "event 7 of task T")
    for value in range(1, 50):
        publish_loop.send(record(value), 5, str(value))
    assert ran == []  # nothing waited for the slow first one
    release.set()
    assert publish_loop.flush(5)
    assert ran == list(range(50))
    assert "publishing event 7 of task T failed" in caplog.text


def test_flush_reports_what_did_not_finish_in_time():
    async def slow() -> None:
        await asyncio.sleep(0.5)

    publish_loop.send(slow(), 5, "slow")
    assert publish_loop.flush(0.05) is False
    assert publish_loop.flush(5) is True
