"""Every plan a run followed: the first one and each replan or refinement, with why and at what cost.

Imported by models.py so Django registers it; written only by the engine (agents/plan_record.py).
"""
from __future__ import annotations

from django.db import models


class PlanVersion(models.Model):
    """Version n of a run's plan. Step rows (TaskExecution.plan_version) say which one they ran from."""

    class Kind(models.TextChoices):
        INITIAL = "initial"  # the plan the run started with (template, explicit, or the model's)
        REPLAN = "replan"  # a step failed in a way the plan could not continue from
        REFINE = "refine"  # a step's observation contradicted the plan (an empty result)

    task = models.ForeignKey("tasks_app.Task", on_delete=models.CASCADE, related_name="plan_versions")
    run = models.IntegerField()
    version = models.IntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.CharField(max_length=20)  # model | template | user | react
    at_step = models.IntegerField(default=0)  # the step after which it was made (0: before the first)
    reason = models.TextField()
    plan = models.JSONField()
    tokens = models.IntegerField(default=0)
    credits = models.IntegerField(default=0)
    model = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "run", "version"], name="one_plan_version")]
        ordering = ["task", "run", "version"]

    def __str__(self) -> str:
        return f"{self.task_id} run {self.run} plan v{self.version} ({self.kind})"
