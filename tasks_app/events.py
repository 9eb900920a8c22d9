"""Progress events: numbered per task, stored, and published to Channels after commit.

A client that missed events (a reconnect, channels-redis dropping past its capacity)
sees a gap in `seq` and reads the missing ones back from TaskEvent.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.db.models import F

from . import publish_loop
from .compiled_insert import CompiledInsert
from .models import Task, TaskEvent
from .update_returning import update_returning

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 5  # Redis unreachable: give up on live delivery (the event is stored) and go on


def task_group(task_id: str) -> str:
    return f"task.{task_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def emit(task_id: str, type_: str, payload: dict[str, Any]) -> int:
    """Store the event with the task's next sequence number; publish it once committed."""
    with transaction.atomic(savepoint=False):  # nested in the step's transaction: no savepoint needed
        seq, user_id = _next_seq(task_id)
        store(task_id, user_id, seq, type_, payload)
    return seq


def _next_seq(task_id: str) -> tuple[int, int]:
    """Take the task's next event number: one UPDATE ... RETURNING (the row lock orders concurrent emits)."""
    row = update_returning(Task.objects.filter(id=task_id), ["event_seq", "user_id"], event_seq=F("event_seq") + 1)
    if row is None:
        raise Task.DoesNotExist(f"task {task_id} does not exist")
    return int(row[0]), int(row[1])


EVENT_ROW = CompiledInsert(TaskEvent)  # every step stores one


def store(task_id: str, user_id: int, seq: int, type_: str, payload: dict[str, Any]) -> None:
    """Store an event whose number the caller took in its own UPDATE of the task (a step's release,
    tasks_app/leases.py), in the caller's transaction; publish it once committed."""
    EVENT_ROW.insert(task_id=task_id, seq=seq, type=type_, payload=payload)
    message = live_message({"taskId": task_id, "seq": seq, "type": type_, **payload})
    transaction.on_commit(lambda: publish(task_id, user_id, message))


def store_many(task_id: str, user_id: int, numbered: list[tuple[int, str, dict[str, Any]]]) -> None:
    """Store several events whose numbers the caller took in its own UPDATE, in one INSERT; publish
    them once committed, in order."""
    TaskEvent.objects.bulk_create([TaskEvent(task_id=task_id, seq=seq, type=type_, payload=payload)
                                   for seq, type_, payload in numbered])
    for seq, type_, payload in numbered:
        message = live_message({"taskId": task_id, "seq": seq, "type": type_, **payload})
        transaction.on_commit(lambda message=message: publish(task_id, user_id, message))  # type: ignore[misc]


def live_message(event: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message of an event: its JSON text encoded once here, not once per subscriber;
    taskId and seq beside it so a consumer skips what its refill sent without decoding the text."""
    return {"type": "task.event", "taskId": event["taskId"], "seq": event["seq"],
            "text": json.dumps(event)}


def publish(task_id: str, user_id: int, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    groups = [task_group(task_id), user_group(user_id)]
    try:
        if isinstance(layer, InMemoryChannelLayer):  # its queues live on the server's loop: async_to_sync uses it
            async_to_sync(_send_to_groups)(layer, groups, message)
        else:  # Redis: the process's publishing loop, where the layer keeps its connection; not waited for
            publish_loop.send(_send_to_groups(layer, groups, message), PUBLISH_TIMEOUT_S,
                              f"event {message['seq']} of task {task_id}")
    except Exception:  # the event is stored: a client refills it from the database
        log.warning("publishing event %s of task %s failed", message["seq"], task_id, exc_info=True)


async def _send_to_groups(layer: Any, groups: list[str], message: dict[str, Any]) -> None:
    for group in groups:
        await layer.group_send(group, message)


def since(task_id: str, after_seq: int) -> list[dict[str, Any]]:
    return [
        {"taskId": task_id, "seq": e.seq, "type": e.type, **e.payload}
        for e in TaskEvent.objects.filter(task_id=task_id, seq__gt=after_seq).order_by("seq")
    ]
