"""One event loop per process, on a daemon thread, for publishing to the channel layer from sync code.

async_to_sync starts an event loop for every call, and channels_redis keeps its connections per loop,
so every event a worker published paid a new loop and a new Redis connection (about 4 ms of CPU, more
wall time on a busy machine), on the way from commit to the client. On this loop the layer connects once
per process. A forked child (a Celery prefork worker) starts its own loop on first use.
"""
from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_pid = 0


def _running() -> asyncio.AbstractEventLoop:
    global _loop, _pid
    with _lock:
        if _loop is None or _pid != os.getpid():  # a forked child has the parent's loop but not its thread
            _loop, _pid = asyncio.new_event_loop(), os.getpid()
            threading.Thread(target=_loop.run_forever, name="channel-publisher", daemon=True).start()
        return _loop


def run(coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
    """Run `coroutine` on this process's publishing loop and wait for it (TimeoutError after `timeout` s)."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _running())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise
