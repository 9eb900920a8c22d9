"""The websocket progress feed: one task (ws/tasks/{taskId}/) or all of a user's tasks (ws/tasks/).

Protocol (docs/api.md): authenticate by session, `?token=`, or a first message
{"type": "auth", "token": ...}; ask for stored events with `?after=N` or
{"type": "resume", "after": N (, "taskId": ...)}; then live events follow. Every event
carries its task's `seq`: a client that sees a gap asks for what it missed. Close codes:
4401 not authenticated, 4403 not your task (or no such task). Never sends another user's events.
"""
from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import events
from .models import Task
from .ws_auth import query_param, user_for_token

NOT_AUTHENTICATED, FORBIDDEN = 4401, 4403
AUTH_TIMEOUT_S = 10


@database_sync_to_async
def owned_last_seq(user: Any, task_id: Any) -> int | None:
    """The task's last seq if `user` owns it, else None."""
    if not isinstance(task_id, str) or not 0 < len(task_id) <= 32 or "\x00" in task_id:
        return None
    return Task.objects.filter(id=task_id, user=user).values_list("event_seq", flat=True).first()


def _after(value: Any) -> int | None:
    try:
        after = int(value)
    except (TypeError, ValueError):
        return None
    return after if 0 <= after < 2**31 else None


class TaskFeedConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.task_id: str | None = self.scope["url_route"]["kwargs"].get("task_id")
        self.user: Any = None
        self.joined: list[str] = []
        self.sent: dict[str, int] = {}  # task id -> highest seq sent, so a refill and live events never repeat
        self.auth_timer: asyncio.Task[None] | None = None
        await self.accept()
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            await self.start(user, _after(query_param(self.scope, "after")))
        else:  # wait for {"type": "auth", "token": ...}
            self.auth_timer = asyncio.create_task(self._expire())

    async def _expire(self) -> None:
        await asyncio.sleep(AUTH_TIMEOUT_S)
        if self.user is None:
            await self.close(code=NOT_AUTHENTICATED)

    async def start(self, user: Any, after: int | None) -> None:
        if self.task_id is not None:
            last_seq = await owned_last_seq(user, self.task_id)
            if last_seq is None:
                await self.close(code=FORBIDDEN)
                return
            group = events.task_group(self.task_id)
        else:
            last_seq, group = None, events.user_group(user.id)
        self.user = user
        await self.channel_layer.group_add(group, self.channel_name)  # join first: a refill then misses nothing
        self.joined.append(group)
        await self.send_json({"type": "subscribed", "taskId": self.task_id, "lastSeq": last_seq})
        if after is not None and self.task_id is not None:
            await self.refill(self.task_id, after)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if self.user is None:
            user = await user_for_token(content.get("token")) if kind == "auth" else None
            if user is None or not user.is_authenticated:
                await self.close(code=NOT_AUTHENTICATED)
                return
            await self.start(user, _after(content.get("after")))
        elif kind == "resume":
            await self.resume(content)
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "message": f"unknown message type {kind!r}"})

    async def resume(self, content: dict[str, Any]) -> None:
        task_id, after = self.task_id or content.get("taskId"), _after(content.get("after"))
        if after is None:
            await self.send_json({"type": "error", "message": "resume needs after: an integer seq >= 0"})
        elif task_id != self.task_id and await owned_last_seq(self.user, task_id) is None:
            await self.send_json({"type": "error", "message": f"no task {task_id!r}"})
        else:
            await self.refill(str(task_id), after)

    async def refill(self, task_id: str, after: int) -> None:
        for event in await database_sync_to_async(events.since)(task_id, after):
            await self.send_json(event)
            self.sent[task_id] = max(self.sent.get(task_id, 0), event["seq"])

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == "task.event":  # the hot path: once per event per socket
            await self.task_event(message)
        else:  # Channels' dispatch hops to a thread to close stale database connections first
            await super().dispatch(message)

    async def task_event(self, message: dict[str, Any]) -> None:
        """A live event from the channel layer (events.live_message, published after commit), sent as the
        text encoded once by the publisher. No database here, so no hop to a thread for one."""
        task_id, seq = message["taskId"], message["seq"]
        if seq <= self.sent.get(task_id, 0):
            return  # a refill sent it already
        self.sent[task_id] = seq
        await self.send(text_data=message["text"])

    async def disconnect(self, code: int) -> None:
        if self.auth_timer is not None:
            self.auth_timer.cancel()
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
