"""Websocket fan-out: many clients on the feeds of one or more tasks (daphne, token auth), commit ->
receive latency, and events lost: dropped live (a gap in seq, or a connection the server closed) and
still missing after the client's refill (resume on the same socket, or a reconnect with ?after=N)."""
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
    task_id: str = ""
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


async def _client(task_id: str, url: str, gate: asyncio.Semaphore, subscribed: asyncio.Queue[int],
                  final: asyncio.Future[dict[str, int]], live_over: asyncio.Queue[int]) -> Feed:
    feed = Feed(task_id)
    async with gate:  # connect in batches: daphne checks each token in the database
        ws, hello = await _open(url)
    feed.base, feed.last_receive = int(hello.get("lastSeq") or 0), time.monotonic()
    await subscribed.put(1)
    live = asyncio.ensure_future(_pump(ws, feed, feed.live))
    last = (await final)[task_id]
    wanted = set(range(feed.base + 1, last + 1))
    while wanted - feed.live.keys() and not live.done() and time.monotonic() - feed.last_receive < QUIET_S:
        await asyncio.sleep(0.05)  # late live events still count as live, until the feed goes quiet
    live.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await live  # its recv() must be gone before the refill calls recv() again
    missing = wanted - feed.live.keys()
    feed.dropped = len(missing)
    await live_over.put(1)
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


async def fan_out(urls: list[tuple[str, str]], run_tasks: Callable[[], dict[str, int]],
                  on_live_over: Callable[[], None]) -> list[Feed]:
    """Connect a client to each (task id, url), run the tasks (run_tasks returns each one's final seq),
    call on_live_over once every client has stopped listening live (before refills and closes), collect
    the feeds."""
    loop = asyncio.get_running_loop()
    subscribed, live_over = asyncio.Queue[int](), asyncio.Queue[int]()
    final: asyncio.Future[dict[str, int]] = loop.create_future()
    gate = asyncio.Semaphore(25)
    clients = [asyncio.ensure_future(_client(task_id, url, gate, subscribed, final, live_over))
               for task_id, url in urls]
    for _ in urls:
        await asyncio.wait_for(subscribed.get(), timeout=120)
    final.set_result(await asyncio.to_thread(run_tasks))
    for _ in urls:
        await live_over.get()
    on_live_over()
    return list(await asyncio.gather(*clients))


def latencies(feeds: list[Feed], commit_time: Callable[[str, int], float | None]) -> list[float]:
    """Seconds from each event's commit (recorded by the worker) to each client receiving it live."""
    out = []
    for feed in feeds:
        for seq, received in feed.live.items():
            committed = commit_time(feed.task_id, seq)
            if committed is not None:
                out.append(received - committed)
    return out


def measure(port: int, task_ids: list[str], token: str, per_task: int,
            run_tasks: Callable[[], dict[str, int]], on_live_over: Callable[[], None]) -> list[Feed]:
    """`per_task` clients on each task's feed, spread over the tasks in turn (as they would connect)."""
    urls = [(task_id, f"ws://127.0.0.1:{port}/ws/tasks/{task_id}/?token={token}")
            for _ in range(per_task) for task_id in task_ids]
    return asyncio.run(fan_out(urls, run_tasks, on_live_over))
