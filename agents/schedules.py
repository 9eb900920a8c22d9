"""Scheduled runs: a task whose agentConfig has `schedule` (cron, 5 fields, UTC) gets a
django_celery_beat PeriodicTask that calls agents.tasks.run_scheduled(task_id).

celery-beat's DatabaseScheduler reads the PeriodicTask rows, so creating, changing or
deleting a row here is all it takes. Each firing starts a new run (attempts + 1, its
own TaskExecution rows); a firing that finds the previous run still active is skipped.
"""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from celery.schedules import crontab
from croniter import croniter
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from tasks_app import lifecycle
from tasks_app.models import Task

from .admission import request_run
from .types import default_schedule

log = logging.getLogger(__name__)
FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")  # cron's order


class InvalidSchedule(ValueError):
    """The schedule is not a 5-field cron expression; the message says what is wrong."""


def schedule_of(agent_config: dict[str, Any] | None, agent_type: str | None = None) -> str | None:
    """The config's schedule, else the one its agent type gives such a config (types.default_schedule)."""
    value = (agent_config or {}).get("schedule")
    if isinstance(value, str) and value.strip():
        return value.strip()
    return default_schedule(agent_type, agent_config) if agent_type else None


def parse(expression: str) -> dict[str, str]:
    """'0 9 * * 1-5' -> crontab fields; InvalidSchedule names the problem."""
    parts = expression.split()
    if len(parts) != 5:
        raise InvalidSchedule(f"agentConfig.schedule: {expression!r} is not a cron expression of 5 fields "
                              f"(minute hour day-of-month month day-of-week), e.g. '0 9 * * *'")
    fields = dict(zip(FIELDS, parts, strict=True))
    try:
        crontab(**fields)
    except Exception as exc:
        raise InvalidSchedule(f"agentConfig.schedule: {expression!r} is not valid cron: {exc}") from None
    return fields


def validate(agent_config: dict[str, Any] | None) -> None:
    expression = schedule_of(agent_config)
    if expression is not None:
        parse(expression)
    elif (agent_config or {}).get("schedule") not in (None, ""):
        raise InvalidSchedule("agentConfig.schedule: must be a cron expression string, e.g. '0 9 * * *'")


def periodic_task_name(task_id: str) -> str:
    return f"xantuus-task-{task_id}"


def sync(task: Task) -> PeriodicTask | None:
    """Make the task's PeriodicTask match its schedule: create, update, or remove it."""
    expression = schedule_of(task.agent_config, task.agent_type)
    if expression is None or task.status == "cancelled":
        remove(task.id)
        return None
    fields = parse(expression)
    with transaction.atomic():
        cron, _ = CrontabSchedule.objects.get_or_create(**fields, timezone="UTC")
        periodic, _ = PeriodicTask.objects.update_or_create(
            name=periodic_task_name(task.id),
            defaults={"task": "agents.tasks.run_scheduled", "crontab": cron, "interval": None,
                      "args": json.dumps([task.id]), "queue": "agent.control", "enabled": True,
                      "description": f"{task.title} ({expression} UTC)"[:200]},
        )
    return periodic


def remove(task_id: str) -> None:
    PeriodicTask.objects.filter(name=periodic_task_name(task_id)).delete()


def fire(task_id: str) -> str:
    """A firing: start a new run unless the previous one is still active (then skip it)."""
    task = Task.objects.filter(id=task_id).first()
    if task is None or schedule_of(task.agent_config, task.agent_type) is None or task.status == "cancelled":
        remove(task_id)  # a cancelled task stays cancelled, whatever path cancelled it
        return "unscheduled"
    try:
        started = request_run(task)
    except lifecycle.TransitionNotAllowed:
        log.info("scheduled run of task %s skipped: it is %s", task_id, task.status)
        return "skipped"
    return "started" if started else "queued"



def tick(now: datetime | None = None) -> list[str]:
    """The embedded default's beat: fire every schedule with a firing due since its last run.

    The same semantics as celery-beat's crontab entries: a new schedule waits for its next
    firing; after downtime, missed firings are caught up once, not once each. Claiming a
    firing is a conditional UPDATE of last_run_at, so two processes never fire it twice.
    """
    now = now or timezone.now()
    fired = []
    for periodic in PeriodicTask.objects.filter(task="agents.tasks.run_scheduled", enabled=True,
                                                crontab__isnull=False).select_related("crontab"):
        since = periodic.last_run_at or periodic.date_changed
        if since is None or _last_due(periodic.crontab, now) <= since:
            continue
        claimed = PeriodicTask.objects.filter(id=periodic.id, last_run_at=periodic.last_run_at).update(
            last_run_at=now, total_run_count=periodic.total_run_count + 1)
        if claimed:
            task_id = json.loads(periodic.args or "[]")[0]
            log.info("schedule %s fired: %s", periodic.name, fire(task_id))
            fired.append(task_id)
    return fired


def _last_due(cron: CrontabSchedule, now: datetime) -> datetime:
    """The latest firing of `cron` at or before `now` (cron's own semantics, UTC)."""
    expression = " ".join(str(getattr(cron, name)) for name in FIELDS)
    return croniter(expression, now.astimezone(UTC)).get_prev(datetime)
