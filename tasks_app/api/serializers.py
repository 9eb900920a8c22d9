"""Request and response shapes, camelCase on the wire (the seed's field names)."""
# ruff: noqa: N815  (field names are the wire names)
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from tasks_app.models import Priority, Project, TaskStatus
from tasks_app.seed_shape import SeedShapeError, to_task_body
from tasks_app.selectors import project_of_user, task_estimate, task_irreversible_steps, task_progress

from .fields import JSONObjectField, StrictCharField, StrictSerializer, validate_schedule

ORDERINGS = ["createdAt", "-createdAt", "updatedAt", "-updatedAt", "dueDate", "-dueDate", "title", "-title",
             "status", "-status", "priority", "-priority"]


@extend_schema_field(OpenApiTypes.ANY)
class AnyJSONField(serializers.JSONField):
    """Any JSON value: a step's output may be an object, a list, a text or a number (llm.summarize: a text)."""


@extend_schema_field(OpenApiTypes.DATETIME)
class IsoDateTimeField(serializers.ReadOnlyField):
    """A timestamp as Python's isoformat() writes it (`+00:00`, not DRF's `Z`): the steps' and plan
    versions' answers have always said it so."""

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class TaskFacts:
    # What a task's answers (the task, its status) show beyond its columns: progress, estimates, the
    # pause reason and the steps that cannot be undone (tasks_app/selectors.py reads them). A comment,
    # not a docstring: the schema would describe the serializers using it with it.

    def get_progress(self, task: Any) -> int:
        return task_progress(task)

    def get_pauseReason(self, task: Any) -> str | None:  # noqa: N802  (the wire name)
        return task.pause_reason or None

    def get_estimatedCredits(self, task: Any) -> int | None:  # noqa: N802  (the wire name)
        return task_estimate(task)["estimatedCredits"]

    def get_estimatedDuration(self, task: Any) -> int | None:  # noqa: N802  (the wire name)
        return task_estimate(task)["estimatedDuration"]

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_irreversibleSteps(self, task: Any) -> list[dict[str, Any]]:  # noqa: N802  (the wire name)
        return task_irreversible_steps(task)


class ProjectInputSerializer(StrictSerializer):
    name = StrictCharField(max_length=200)
    description = StrictCharField(max_length=10_000, required=False, allow_blank=True)


class ProjectSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


class TaskInputSerializer(StrictSerializer):
    """POST /api/workspace/tasks (all fields) and PATCH .../{id} (any subset)."""

    title = StrictCharField(max_length=200)
    description = StrictCharField(max_length=20_000, required=False, allow_null=True, allow_blank=True)
    agentType = StrictCharField(max_length=50, required=False, allow_null=True)
    agentConfig = JSONObjectField(required=False, allow_null=True)
    agentModel = StrictCharField(max_length=100, required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    plan = JSONObjectField(required=False, allow_null=True, help_text="the seed's plan format: {steps: [...]}")
    projectId = StrictCharField(max_length=32, required=False, allow_null=True)
    tags = serializers.ListField(child=StrictCharField(max_length=50), max_length=20, required=False)
    dueDate = serializers.DateTimeField(required=False, allow_null=True)
    creditBudget = serializers.IntegerField(
        min_value=0, max_value=1_000_000_000, required=False, allow_null=True,
        help_text="the most credits one run may spend; a step that would go over it pauses the task "
                  "(pauseReason credit_limit). null: only your balance limits it. Changeable at any time")

    SNAKE = {"agentType": "agent_type", "agentConfig": "agent_config", "agentModel": "agent_model",
             "projectId": "project", "dueDate": "due_date", "creditBudget": "credit_budget"}

    def to_internal_value(self, data: Any) -> Any:
        """The seed's agent-type example shape ({"type", "goal", "config"}) is accepted as written."""
        if isinstance(data, Mapping):
            try:
                data = to_task_body(data)
            except SeedShapeError as exc:
                raise serializers.ValidationError(exc.fields) from None
        return super().to_internal_value(data)

    def validate_projectId(self, value: str | None) -> Project | None:  # noqa: N802  (the wire name)
        if value is None:
            return None
        project = project_of_user(user=self.context["request"].user, project_id=value)
        if project is None:
            raise serializers.ValidationError(f"no project {value!r}")
        return project

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            validate_schedule(attrs.get("agentConfig"))
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"agentConfig": exc.detail}) from None
        return attrs

    def service_kwargs(self) -> dict[str, Any]:
        """The validated body as the services' snake_case keyword arguments."""
        return {self.SNAKE.get(name, name): value for name, value in self.validated_data.items()}


class TaskSerializer(TaskFacts, serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=TaskStatus.choices)
    priority = serializers.ChoiceField(choices=Priority.choices)
    agentType = serializers.CharField(source="agent_type", allow_null=True)
    agentModel = serializers.CharField(source="agent_model", allow_null=True)
    agentConfig = AnyJSONField(source="agent_config", allow_null=True)
    plan = AnyJSONField(allow_null=True)
    projectId = serializers.CharField(source="project_id", allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    dueDate = serializers.DateTimeField(source="due_date", allow_null=True)
    attempts = serializers.IntegerField()
    currentStep = serializers.IntegerField(source="current_step")
    totalSteps = serializers.IntegerField(source="total_steps")
    progress = serializers.SerializerMethodField()
    toolCalls = serializers.IntegerField(source="tool_calls")
    totalTokens = serializers.IntegerField(source="total_tokens")
    totalCredits = serializers.IntegerField(source="total_credits")
    planTokens = serializers.IntegerField(source="plan_tokens", help_text="model tokens spent planning this run")
    planCredits = serializers.IntegerField(source="plan_credits", help_text="credits of planning (its tokens)")
    creditBudget = serializers.IntegerField(source="credit_budget", allow_null=True,
                                            help_text="the most credits one run may spend (null: no budget)")
    pauseReason = serializers.SerializerMethodField(help_text="why it is paused: credit_limit, or null")
    estimatedCredits = serializers.SerializerMethodField(help_text="what a run is expected to cost, planning "
                                                                   "included (null: a model-driven run)")
    estimatedDuration = serializers.SerializerMethodField(help_text="milliseconds a run is expected to take")
    irreversibleSteps = serializers.SerializerMethodField(
        help_text="the plan's steps that cannot be undone once they act (step, id, action, description, why)")
    executionTime = serializers.IntegerField(source="execution_time", help_text="milliseconds")
    lifetimeCredits = serializers.SerializerMethodField(help_text="credits of every run, this one included")
    lifetimeTokens = serializers.SerializerMethodField(help_text="tokens of every run, this one included")
    lifetimeExecutionTime = serializers.SerializerMethodField(help_text="milliseconds of every run, this one included")
    result = AnyJSONField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    lastEventSeq = serializers.IntegerField(source="event_seq", help_text="seq of the task's latest event")
    lastRunAt = serializers.DateTimeField(source="last_run_at", allow_null=True)
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    completedAt = serializers.DateTimeField(source="completed_at", allow_null=True)
    failedAt = serializers.DateTimeField(source="failed_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    def get_lifetimeCredits(self, task: Any) -> int:  # noqa: N802  (the wire name)
        return int(task.lifetime_credits + task.total_credits)

    def get_lifetimeTokens(self, task: Any) -> int:  # noqa: N802
        return int(task.lifetime_tokens + task.total_tokens)

    def get_lifetimeExecutionTime(self, task: Any) -> int:  # noqa: N802
        return int(task.lifetime_execution_time + task.execution_time)



class TaskListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False)
    agentType = StrictCharField(max_length=50, required=False)
    projectId = StrictCharField(max_length=32, required=False)
    tag = StrictCharField(max_length=50, required=False)
    ordering = serializers.ChoiceField(choices=ORDERINGS, required=False, default="-createdAt")
    page = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    pageSize = serializers.IntegerField(min_value=1, max_value=100, required=False)


class StepSerializer(serializers.Serializer):
    """One TaskExecution row."""

    id = serializers.CharField()
    run = serializers.IntegerField()
    step = serializers.IntegerField()
    action = serializers.CharField()
    tool = serializers.CharField(allow_null=True)
    input = AnyJSONField()
    output = AnyJSONField(allow_null=True)
    reasoning = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    sideEffect = serializers.CharField(source="side_effect")
    tokens = serializers.IntegerField()
    credits = serializers.IntegerField()
    duration = serializers.IntegerField(help_text="milliseconds")
    planVersion = serializers.IntegerField(source="plan_version",
                                           help_text="the version of the run's plan the step came from")
    createdAt = IsoDateTimeField(source="created_at")
    completedAt = IsoDateTimeField(source="completed_at", allow_null=True)


class ExecutionsQuerySerializer(serializers.Serializer):
    run = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False,
                                   help_text="only this run's steps (default: every run)")


@extend_schema_serializer(many=False)  # a page is one object, also as a viewset's `list` answer
class TaskPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = TaskSerializer(many=True)


class ToolActionSerializer(serializers.Serializer):
    tool = serializers.CharField()
    action = serializers.CharField(help_text="tool.action, as plans name it")
    description = serializers.CharField()
    sideEffect = serializers.ChoiceField(choices=["read", "write", "irreversible"])
    credits = serializers.IntegerField()
    inputSchema = serializers.DictField(help_text="JSON schema of the action's input")
