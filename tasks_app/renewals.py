"""One renewal thread per process keeps alive every lease and claim its calls hold.

A task's lease (tasks_app/leases.py) and a parallel step's claim (tasks_app/step_claims.py)
lapse unless renewed; a long tool call registers its renewal here for as long as it runs.
One thread for all of them, started on first use in each (forked) worker process, instead
of a thread started and joined around every call: a step of a fast tool costs a dict insert
and delete. Each registration is renewed when it is due, never early.
"""
from __future__ import annotations

import itertools
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)

_lock = threading.Lock()
_wake = threading.Condition(_lock)
_renewals: dict[int, tuple[Callable[[], object], float]] = {}  # renew, when it is next due (monotonic)
_ids = itertools.count()
_thread_pid: int | None = None  # the process whose renewal thread is running (a fork has none)
_sleeping_until = math.inf  # when the thread wakes next; a registration due before wakes it


def _after_fork() -> None:
    """A forked worker starts with no renewals and a fresh lock (the parent's may have been held)."""
    global _lock, _wake, _renewals, _thread_pid, _sleeping_until
    _lock = threading.Lock()
    _wake = threading.Condition(_lock)
    _renewals, _thread_pid, _sleeping_until = {}, None, math.inf


os.register_at_fork(after_in_child=_after_fork)


def interval() -> float:
    return settings.AGENT_LEASE_SECONDS / 3


@contextmanager
def renewing(renew: Callable[[], object]) -> Iterator[None]:
    """Call `renew` every AGENT_LEASE_SECONDS / 3 from the process's renewal thread while the block runs."""
    key, due = next(_ids), time.monotonic() + interval()
    with _lock:
        _renewals[key] = (renew, due)
        _start_thread()
        if due < _sleeping_until:  # only when the lease got shorter (a setting changed): not per step
            _wake.notify()
    try:
        yield
    finally:
        with _lock:
            _renewals.pop(key, None)


def _start_thread() -> None:
    global _thread_pid
    if _thread_pid != os.getpid():
        _thread_pid = os.getpid()
        threading.Thread(target=_run, name="lease-renewals", daemon=True).start()


def _due() -> list[Callable[[], object]]:
    """Wait until a registration is due; those due now, rescheduled (called holding the lock)."""
    global _sleeping_until
    while True:
        now = time.monotonic()
        due = [(key, renew) for key, (renew, at) in _renewals.items() if at <= now]
        if due:
            for key, renew in due:
                _renewals[key] = (renew, now + interval())
            return [renew for _, renew in due]
        if not _renewals:  # nothing to renew: hold no database connection while idle
            connection.close()
        _sleeping_until = min((at for _, at in _renewals.values()), default=now + interval())
        _wake.wait(max(0.0, _sleeping_until - now))
        _sleeping_until = math.inf


def _run() -> None:
    try:
        while True:
            with _lock:
                due = _due()
            for renew in due:
                try:
                    renew()
                except Exception:  # the database is away: the next round tries again, the lease may lapse
                    log.warning("renewing a lease failed", exc_info=True)
                    connection.close()
    finally:
        connection.close()  # this thread's own connection
