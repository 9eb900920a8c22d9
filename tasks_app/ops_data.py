"""The store of operations: one row per finished run, and the heartbeats of workers and beat.

RunRecord rows are written only by agents/metrics.py when a run ends (one per task and run,
kept when the task is deleted); WorkerHeartbeat rows only by agents/heartbeats.py.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models


class RunRecord(models.Model):
    """One run of a task (a first run, a retry, a scheduled firing) as it ended."""

    class Status(models.TextChoices):
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    task = models.ForeignKey("tasks_app.Task", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="run_records")
    task_ref = models.CharField(max_length=32)  # the task's id, kept if it is deleted
    run = models.IntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="run_records")
    agent_type = models.CharField(max_length=50, default="custom")
    priority = models.CharField(max_length=10, default="medium")
    status = models.CharField(max_length=10, choices=Status.choices)
    queued_at = models.DateTimeField(null=True, blank=True)  # when the run was asked for
    started_at = models.DateTimeField(null=True, blank=True)  # when it got a slot
    finished_at = models.DateTimeField()
    duration_ms = models.IntegerField(default=0)  # working time (planning + steps)
    tokens = models.IntegerField(default=0)
    credits = models.IntegerField(default=0)  # the ledger's debits of the run, else the task's count
    steps = models.IntegerField(default=0)
    retries = models.IntegerField(default=0)  # transient failures retried across its steps
    first_action = models.CharField(max_length=100, blank=True, default="")
    time_to_first_step_ms = models.IntegerField(null=True, blank=True)  # from asked for to step 1 begun
    error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task_ref", "run"], name="one_record_per_run")]
        indexes = [models.Index(fields=["finished_at"]), models.Index(fields=["user", "finished_at"]),
                   models.Index(fields=["agent_type", "finished_at"])]
        ordering = ["-finished_at"]

    def __str__(self) -> str:
        return f"task {self.task_ref} run {self.run}: {self.status}"


class WorkerHeartbeat(models.Model):
    """A Celery worker (or the in-process runner, or beat's sweeper tick) as it last reported itself."""

    class Kind(models.TextChoices):
        WORKER = "worker"
        INLINE = "inline"  # the embedded default's in-process runner
        BEAT = "beat"  # beat's last tick (the sweeper ran)

    name = models.CharField(primary_key=True, max_length=200)  # celery@host, inline@host:pid, beat
    kind = models.CharField(max_length=10, choices=Kind.choices)
    pid = models.IntegerField(null=True, blank=True)
    queues = models.JSONField(default=list)
    concurrency = models.IntegerField(default=0)
    active = models.JSONField(default=list)  # what it runs now: [{"name", "taskId"}]
    processed = models.IntegerField(default=0)  # tasks it accepted since it started
    load = models.JSONField(default=list)  # the host's 1, 5 and 15 minute load averages
    started_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)  # a clean shutdown said goodbye

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}) seen {self.last_seen:%Y-%m-%d %H:%M:%S}"
