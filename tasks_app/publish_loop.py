"""One event loop per process, on a daemon thread, for publishing to the channel layer from sync code.

async_to_sync starts an event loop for every call, and channels_redis keeps its connections per loop,
so every event a worker published paid a new loop and a new Redis connection (about 4 ms of CPU, more
wall time on a busy machine), on the way from commit to the client. On this loop the layer connects once
per process. A forked child (a Celery prefork worker) starts its own loop on first use.

`send` hands a coroutine to the loop without waiting for it: one consumer runs what was sent in the
order it was sent (a task's events reach the layer in `seq` order), so a step does not wait for Redis
after its commit. `flush` waits until what was sent has run (a worker process's exit, tests).
"""
from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)
MAX_WAITING = 10_000  # sent but not yet run: past this (Redis unreachable) a send is dropped and logged
_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_queue: asyncio.Queue[tuple[Coroutine[Any, Any, Any], float, str]] | None = None
_pid = 0


def _running() -> asyncio.AbstractEventLoop:
    global _loop, _queue, _pid
    with _lock:
        if _loop is None or _pid != os.getpid():  # a forked child has the parent's loop but not its thread
            _loop, _pid = asyncio.new_event_loop(), os.getpid()
            _queue = asyncio.Queue(MAX_WAITING)
            _loop.create_task(_consume(_queue))
            threading.Thread(target=_loop.run_forever, name="channel-publisher", daemon=True).start()
        return _loop


async def _consume(queue: asyncio.Queue[tuple[Coroutine[Any, Any, Any], float, str]]) -> None:
    while True:
        coroutine, timeout, what = await queue.get()
        try:
            await asyncio.wait_for(coroutine, timeout)
        except Exception:  # a timeout included: nobody waits for it, so it is logged here
            log.warning("publishing %s failed", what, exc_info=True)
        finally:
            queue.task_done()


def send(coroutine: Coroutine[Any, Any, Any], timeout: float, what: str) -> None:
    """Run `coroutine` on the publishing loop after what was sent before it, without waiting for it
    (cancelled after `timeout` s; `what` names it in the log if it fails)."""
    loop = _running()
    queue = _queue
    assert queue is not None

    def put() -> None:
        try:
            queue.put_nowait((coroutine, timeout, what))
        except asyncio.QueueFull:
            coroutine.close()
            log.warning("publishing %s dropped: %d sends are waiting", what, MAX_WAITING)

    loop.call_soon_threadsafe(put)


def flush(timeout: float) -> bool:
    """Wait up to `timeout` s until everything sent so far has run; False if it had not."""
    if _loop is None or _pid != os.getpid():
        return True
    assert _queue is not None  # made with the loop
    try:
        run(_queue.join(), timeout)
        return True
    except TimeoutError:
        return False


atexit.register(flush, 5.0)  # a command or server exiting normally; a prefork worker's child: xantuus/celery.py


def run(coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
    """Run `coroutine` on this process's publishing loop and wait for it (TimeoutError after `timeout` s)."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _running())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise
