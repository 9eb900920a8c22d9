"""Shapes of the /api/agent/ endpoints: execute, status, result, replay, trace, events, metrics."""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tasks_app import selectors
from tasks_app.models import TaskStatus

from .fields import StrictSerializer
from .serializers import AnyJSONField, StepSerializer, TaskFacts


class ExecuteSerializer(StrictSerializer):
    """{"async": true} (the default) answers 202 at once; false waits for the result, within a bound."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {"async": serializers.BooleanField(default=True, help_text="run in the background")}


class ReplaySerializer(StrictSerializer):
    fromStep = serializers.IntegerField(min_value=1, max_value=1000, default=1,
                                        help_text="steps before this one are copied from the original")


class StatusSerializer(TaskFacts, serializers.Serializer):
    """A task's execution status: the seed's GET /api/agent/status/{taskId} response."""

    taskId = serializers.CharField(source="id")
    status = serializers.ChoiceField(choices=TaskStatus.choices)
    currentStep = serializers.IntegerField(source="current_step")
    totalSteps = serializers.IntegerField(source="total_steps")
    progress = serializers.SerializerMethodField(help_text="0-100")
    executionTime = serializers.IntegerField(source="execution_time", help_text="milliseconds")
    creditsUsed = serializers.IntegerField(source="total_credits")
    tokensUsed = serializers.IntegerField(source="total_tokens")
    error = serializers.CharField(allow_null=True)
    pauseReason = serializers.SerializerMethodField(help_text="why it is paused: credit_limit, or null")
    creditBudget = serializers.IntegerField(source="credit_budget", allow_null=True,
                                            help_text="the most credits one run may spend")
    estimatedCredits = serializers.SerializerMethodField(help_text="a run's expected credits, planning "
                                                                   "included (null: model-driven)")
    estimatedDuration = serializers.SerializerMethodField(help_text="a run's expected milliseconds")
    irreversibleSteps = serializers.SerializerMethodField(
        help_text="the plan's steps that cannot be undone once they act: step, id, action, "
                  "description, why, requiresApproval (shown before the run starts)")


class ResultSerializer(StatusSerializer):
    """The status plus the result and the last run's steps (also what run_task --json prints)."""

    title = serializers.CharField()
    agentType = serializers.CharField(source="agent_type", allow_null=True)
    result = AnyJSONField(allow_null=True)
    credits = serializers.IntegerField(source="total_credits")
    steps = serializers.SerializerMethodField()

    @extend_schema_field(StepSerializer(many=True))
    def get_steps(self, task: Any) -> Any:
        return StepSerializer(selectors.task_executions(task, run=task.attempts), many=True).data


class TraceSerializer(serializers.Serializer):
    taskId = serializers.CharField()
    steps = serializers.ListField(child=AnyJSONField(), help_text="reasoning, action, input, output of each step")
    replayOf = serializers.CharField(required=False)
    plans = serializers.ListField(child=AnyJSONField(), required=False,
                                  help_text="the run's plan versions and planning calls: version, kind (initial, "
                                            "replan, refine), atStep, reason, tokens, credits")
    rollback = AnyJSONField(required=False, help_text="the last rollback's report (as POST .../rollback answers)")

    def to_representation(self, instance: Any) -> Any:
        # the trace is a stored document (agents/trace.py builds it): a key the engine adds passes through
        return {**instance, **super().to_representation(instance)}


class EventsQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0,
                                     help_text="only events with seq greater than this")


class EventSerializer(serializers.Serializer):
    taskId = serializers.CharField()
    seq = serializers.IntegerField(help_text="per-task, 1, 2, 3 ... without gaps")
    type = serializers.CharField(help_text="status | step | ...")

    def to_representation(self, instance: Any) -> Any:
        return instance  # the payload's own keys (status, step, progress ...) pass through


class EventsSerializer(serializers.Serializer):
    # a task's stored events after the seq in the context's `after`

    taskId = serializers.CharField(source="id")
    lastSeq = serializers.IntegerField(source="event_seq")
    events = serializers.SerializerMethodField()

    @extend_schema_field(EventSerializer(many=True))
    def get_events(self, task: Any) -> list[dict[str, Any]]:
        return selectors.task_events_since(task, after=self.context["after"])


class AgentTypeMetricsSerializer(serializers.Serializer):
    agentType = serializers.CharField()
    runs = serializers.IntegerField(help_text="runs that ended in the window (every run of a task counts)")
    tasks = serializers.IntegerField(help_text="distinct tasks among those runs")
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    avgDuration = serializers.IntegerField(help_text="milliseconds, completed and failed runs")
    successRate = serializers.FloatField(allow_null=True, help_text="completed / (completed + failed) runs, 0-100")
    errorRate = serializers.FloatField(allow_null=True, help_text="failed / (completed + failed) runs, 0-100")
    tokens = serializers.IntegerField()
    retries = serializers.IntegerField(help_text="transient failures retried across the runs' steps")
    credits = serializers.IntegerField(help_text="credits spent in the window (the credit ledger)")


class MetricsQuerySerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=["last24h", "last7d", "last30d"], default="last30d", required=False,
                                     help_text="the span of the rates, runs and durations")


class MetricsSerializer(serializers.Serializer):
    activeAgents = serializers.IntegerField(help_text="runs planning or executing on a worker now")
    queueDepth = serializers.IntegerField(help_text="runs waiting to run: queued for a slot, or admitted with no "
                                                    "worker on them yet")
    window = serializers.CharField(help_text="last24h, last7d or last30d")
    runs = serializers.IntegerField(help_text="runs that ended in the window")
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    successRate = serializers.FloatField(allow_null=True, help_text="completed / (completed + failed) runs, 0-100")
    errorRate = serializers.FloatField(allow_null=True, help_text="failed / (completed + failed) runs, 0-100")
    byStatus = serializers.DictField(child=serializers.IntegerField(), help_text="your tasks by status now")
    byAgentType = AgentTypeMetricsSerializer(many=True)
    creditsUsed = serializers.DictField(child=serializers.IntegerField(),
                                        help_text="last24h, last7d, last30d, from the credit ledger")


class RollbackSerializer(StrictSerializer):
    dryRun = serializers.BooleanField(default=False, help_text="only list what would be undone; change nothing")
    approve = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=500, default=list,
        help_text="ids (from a dry run's report) of the compensations an approval policy gates that you approve")


class CompensationApprovalSerializer(serializers.Serializer):
    policy = serializers.CharField(help_text="the approval policy that gates it, e.g. data-deletion")
    reason = serializers.CharField()
    approved = serializers.BooleanField(help_text="whether this request approved it")


class CompensationSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="names exactly this compensation (its params): what `approve` lists")
    step = serializers.IntegerField()
    action = serializers.CharField(help_text="the step's action, e.g. calendar.create")
    undo = serializers.CharField(help_text="the compensation that undoes it, e.g. calendar.delete")
    params = AnyJSONField(help_text="the compensation's full input (secrets redacted)")
    status = serializers.ChoiceField(
        choices=["undone", "failed", "alreadyUndone", "wouldUndo", "needsApproval", "refused"])
    approval = CompensationApprovalSerializer(required=False, help_text="present when a policy gates it")
    reason = serializers.CharField(required=False, help_text="why it is refused (refused)")
    result = AnyJSONField(required=False, help_text="the compensation's output (undone)")
    error = serializers.CharField(required=False, help_text="why it failed (failed: roll back again to retry)")


class WarningSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    action = serializers.CharField()
    reason = serializers.CharField()


class RollbackReportSerializer(serializers.Serializer):
    taskId = serializers.CharField()
    run = serializers.IntegerField(help_text="the run that was rolled back (the last one)")
    dryRun = serializers.BooleanField()
    at = serializers.DateTimeField()
    undone = serializers.IntegerField()
    failed = serializers.IntegerField()
    compensations = CompensationSerializer(many=True, help_text="newest step first")
    cannotBeUndone = WarningSerializer(many=True, help_text="irreversible actions (an email sent, a payment)")
    notUndoableAutomatically = WarningSerializer(many=True, help_text="writes that recorded no compensation")
    summary = serializers.CharField()
