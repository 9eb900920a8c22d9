"""Websocket fan-out: many clients on one task's feed (daphne, token auth), commit -> receive latency,
and events lost: dropped live (a gap in seq, or a connection the server closed) and still missing
after the client's refill (resume on the same socket, or a reconnect with ?after=N)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

QUIET_S = 3.0  # an event not received live before the feed was quiet this long counts as dropped


@dataclass
class Feed:
    base: int = 0  # lastSeq when subscribed
    live: dict[int, float] = field(default_factory=dict)  # seq -> time received
    dropped: int = 0
    lost: int = 0
    closed: int = 0  # connections the server closed under us
    last_receive: float = 0.0  # monotonic time of the last message


async def _pump(ws: Any, feed: Feed, sink: dict[int, float], wanted: set[int] | None = None,
                deadline: float = float("inf")) -> None:
    """Record events into `sink` until cancelled, the deadline, all of `wanted`, or the server closes."""
    while wanted is None or wanted - sink.keys():
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout=max(0.01, min(3600, deadline - time.monotonic())))
        except TimeoutError:
            return
        except ConnectionClosed:
            feed.closed += 1
            return
        now, event = time.time(), json.loads(raw)
        feed.last_receive = time.monotonic()
        if isinstance(event.get("seq"), int):
            sink.setdefault(event["seq"], now)


async def _open(url: str) -> tuple[Any, dict[str, Any]]:
    ws = await connect(url, open_timeout=60, max_queue=None)
    return ws, json.loads(await ws.recv())


async def _client(url: str, gate: asyncio.Semaphore, subscribed: asyncio.Queue[int],
                  final: asyncio.Future[int]) -> Feed:
    feed = Feed()
    async with gate:  # connect in batches: daphne checks each token in the database
        ws, hello = await _open(url)
    feed.base, feed.last_receive = int(hello.get("lastSeq") or 0), time.monotonic()
    await subscribed.put(1)
    live = asyncio.ensure_future(_pump(ws, feed, feed.live))
    last = await final
    wanted = set(range(feed.base + 1, last + 1))
    while wanted - feed.live.keys() and not live.done() and time.monotonic() - feed.last_receive < QUIET_S:
        await asyncio.sleep(0.05)  # late live events still count as live, until the feed goes quiet
    live.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await live  # its recv() must be gone before the refill calls recv() again
    missing = wanted - feed.live.keys()
    feed.dropped = len(missing)
    if missing:  # what a client does on a gap: ask for everything after the last seq it holds in order
        after, refilled = min(missing) - 1, dict[int, float]()
        try:
            await ws.send(json.dumps({"type": "resume", "after": after}))
        except ConnectionClosed:
            ws, _ = await _open(f"{url}&after={after}")
        await _pump(ws, feed, refilled, missing, time.monotonic() + 10)
        missing -= refilled.keys()
    feed.lost = len(missing)
    with contextlib.suppress(ConnectionClosed):
        await ws.close()
    return feed


async def fan_out(url: str, subscribers: int, run_task: Callable[[], int]) -> list[Feed]:
    """Connect `subscribers` clients, run the task (run_task returns its final seq), collect the feeds."""
    loop = asyncio.get_running_loop()
    subscribed: asyncio.Queue[int] = asyncio.Queue()
    final: asyncio.Future[int] = loop.create_future()
    gate = asyncio.Semaphore(25)
    clients = [asyncio.ensure_future(_client(url, gate, subscribed, final)) for _ in range(subscribers)]
    for _ in range(subscribers):
        await asyncio.wait_for(subscribed.get(), timeout=120)
    final.set_result(await asyncio.to_thread(run_task))
    return list(await asyncio.gather(*clients))


def latencies(feeds: list[Feed], task_id: str, commit_time: Callable[[str, int], float | None]) -> list[float]:
    """Seconds from each event's commit (recorded by the worker) to each client receiving it live."""
    out = []
    for feed in feeds:
        for seq, received in feed.live.items():
            committed = commit_time(task_id, seq)
            if committed is not None:
                out.append(received - committed)
    return out


def measure(port: int, task_id: str, token: str, subscribers: int, run_task: Callable[[], int]) -> list[Feed]:
    url = f"ws://127.0.0.1:{port}/ws/tasks/{task_id}/?token={token}"
    return asyncio.run(fan_out(url, subscribers, run_task))
