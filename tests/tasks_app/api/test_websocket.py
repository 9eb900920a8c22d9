"""The progress feed, for real: a websockets client against daphne, steps run by a celery worker.

Events go worker -> channels-redis -> daphne -> client; a reconnect with ?after=N refills
from the database what the client missed.
"""
from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tasks_app.models import Task

pytestmark = pytest.mark.slow
TIMEOUT = 30


def http(host: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"http://{host}{path}", method=method, data=json.dumps(body or {}).encode(),
                                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.loads(response.read())


async def receive(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def events_until(ws, done) -> list[dict]:
    """Events (messages with a seq) until done(event) is true."""
    seen: list[dict] = []
    while not seen or not done(seen[-1]):
        message = await receive(ws)
        if "seq" in message:
            seen.append(message)
    return seen


def finished(event: dict) -> bool:
    return event["type"] == "status" and event["status"] in {"completed", "failed", "cancelled"}


def test_feed_streams_live_events_and_refills_after_a_reconnect(hn_server, celery_worker, daphne, user):
    hn_server.delays["/item/"] = 0.2  # steps take a moment: the first client leaves mid-run
    token = Token.objects.create(user=user).key
    task = http(daphne, token, "POST", "/api/workspace/tasks",
                {"title": "Daily HN Summary", "agentType": "research", "agentConfig": {"count": 3, "email": False}})

    async def scenario():
        one = await connect(f"ws://{daphne}/ws/tasks/{task['id']}/?token={token}")
        everything = await connect(f"ws://{daphne}/ws/tasks/")
        await everything.send(json.dumps({"type": "auth", "token": token}))
        assert (await receive(one))["type"] == "subscribed"
        assert await receive(everything) == {"type": "subscribed", "taskId": None, "lastSeq": None}
        started = await asyncio.to_thread(http, daphne, token, "POST", f"/api/agent/execute/{task['id']}",
                                          {"async": True})
        assert started["status"] == "planning"
        early = await events_until(one, lambda e: e["seq"] >= 2)
        await one.close()  # the client goes away; the run goes on
        live = await events_until(everything, finished)
        await everything.close()
        again = await connect(f"ws://{daphne}/ws/tasks/{task['id']}/?token={token}&after=2")
        subscribed = await receive(again)
        refilled = await events_until(again, finished)
        await again.close()
        return early, live, subscribed, refilled

    early, live, subscribed, refilled = asyncio.run(scenario())
    stored = Task.objects.get(id=task["id"])
    assert stored.status == "completed"
    seqs = [e["seq"] for e in live]
    assert seqs == list(range(1, stored.event_seq + 1))  # increasing, no gaps, all of them
    assert [e["status"] for e in live if e["type"] == "status"] == ["planning", "executing", "completed"]
    steps = [e for e in live if e["type"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3] and [e["progress"] for e in steps] == [33, 67, 100]
    assert [e["seq"] for e in early][:2] == [1, 2] and early[:2] == live[:2]
    assert subscribed["type"] == "subscribed" and subscribed["lastSeq"] >= 2
    assert refilled == live[2:]  # what the first client missed, from the database


def test_feed_refuses_other_users_tasks_and_anonymous_clients(daphne, user, django_user_model):
    task = Task.objects.create(user=user, title="mine")
    intruder = django_user_model.objects.create_user(username="eve", password="pw-eve-123")
    theirs = Token.objects.create(user=intruder).key

    async def close_code(url: str, first: dict | None = None) -> int:
        async with connect(url) as ws:
            if first is not None:
                await ws.send(json.dumps(first))
            try:
                while True:
                    await receive(ws)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else -1

    async def scenario():
        return (
            await close_code(f"ws://{daphne}/ws/tasks/{task.id}/?token={theirs}"),
            await close_code(f"ws://{daphne}/ws/tasks/{task.id}/", {"type": "auth", "token": theirs}),
            await close_code(f"ws://{daphne}/ws/tasks/nope/?token={theirs}"),
            await close_code(f"ws://{daphne}/ws/tasks/{task.id}/", {"type": "resume", "after": 0}),
            await close_code(f"ws://{daphne}/ws/tasks/?token=bogus", {"type": "ping"}),
        )

    assert asyncio.run(scenario()) == (4403, 4403, 4403, 4401, 4401)
