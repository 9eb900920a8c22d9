"""Ops monitoring and actions. Every action calls tasks_app.services; nothing here writes a status.

Saving a task's form writes only the fields that changed (services.task_update), so an
admin edit can never put back a stale status over the one a worker just wrote.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from . import lifecycle, selectors, services
from .models import AgentMetrics, Project, Task, TaskEvent, TaskExecution
from .selectors import task_progress

EDITABLE = ("title", "description", "priority", "tags", "due_date", "project")


def pretty(value: Any) -> str:
    if value in (None, {}, []):
        return "-"
    return format_html('<pre class="json-block">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False, default=str))


class PrettyMedia:
    """The stylesheet of pretty()'s blocks: a class, as the Content-Security-Policy allows no inline styles."""

    css = {"all": ["tasks_app/admin.css"]}


class TaskExecutionInline(admin.TabularInline):
    Media = PrettyMedia
    model = TaskExecution
    extra = 0
    can_delete = False
    fields = ("run", "step", "action", "status", "side_effect", "attempts", "tokens", "credits", "duration", "error",
              "output_pretty")
    readonly_fields = fields
    ordering = ("-run", "step")

    @admin.display(description="output")
    def output_pretty(self, row: TaskExecution) -> str:
        return pretty(row.output)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _run_action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Task], verb: str,
                call: Callable[[Task], Any]) -> None:
    done, refused = 0, []
    for task in queryset:
        try:
            call(task)
            done += 1
        except (lifecycle.TransitionNotAllowed, services.InvalidTask, services.TaskInUse) as exc:
            refused.append(str(exc))
    if done:
        modeladmin.message_user(request, f"{verb}: {done} task(s)", messages.SUCCESS)
    for reason in refused:
        modeladmin.message_user(request, reason, messages.WARNING)


def _retry(task: Task) -> Task:
    if task.status not in lifecycle.TERMINAL:
        raise lifecycle.TransitionNotAllowed(task.id, "start", task.status)
    return services.task_execute(task=task)


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    Media = PrettyMedia
    list_display = ("title", "id", "user", "status", "agent_type", "priority", "progress", "attempts",
                    "total_credits", "execution_time", "created_at")
    list_filter = ("status", "agent_type", "priority", "user")
    search_fields = ("id", "title", "description", "user__username", "user__email", "error")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    inlines = [TaskExecutionInline]
    actions = ["pause", "resume", "cancel", "retry", "replay", "rollback"]
    fieldsets = [
        (None, {"fields": ("id", "user", *EDITABLE)}),
        ("Run", {"fields": ("status", "progress", "attempts", "current_step", "total_steps", "tool_calls",
                            "started_at", "last_run_at", "completed_at", "failed_at", "error", "pause_reason",
                            "credit_budget")}),
        ("Agent", {"fields": ("agent_type", "agent_model", "config_pretty", "plan_pretty")}),
        ("Outcome", {"fields": ("result_pretty", "trace_pretty", "total_tokens", "total_credits", "execution_time")}),
        ("Lease", {"classes": ["collapse"], "fields": ("lease_owner", "lease_expires_at", "heartbeat_at",
                                                        "event_seq")}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        shown: list[str] = [f for _, opts in self.fieldsets for f in opts["fields"]]  # type: ignore[misc]
        return [f for f in shown if f not in EDITABLE]

    @admin.display(description="progress")
    def progress(self, task: Task) -> str:
        return f"{task_progress(task)}%"

    @admin.display(description="agent config")
    def config_pretty(self, task: Task) -> str:
        return pretty(task.agent_config)

    @admin.display(description="plan")
    def plan_pretty(self, task: Task) -> str:
        return pretty(task.plan)

    @admin.display(description="result")
    def result_pretty(self, task: Task) -> str:
        return pretty(task.result)

    @admin.display(description="execution trace")
    def trace_pretty(self, task: Task) -> str:
        return pretty(selectors.task_trace(task))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tasks are created through the API, which validates the agent and plan

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None or obj.status in services.IDLE

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # deleting runs a service per task, not a bulk delete
        return found

    def save_model(self, request: HttpRequest, obj: Task, form: Any, change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE}
        services.task_update(task=obj, changes=changes)

    def delete_model(self, request: HttpRequest, obj: Task) -> None:
        services.task_delete(task=obj)

    @admin.action(description="Pause (at the next step boundary)")
    def pause(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        _run_action(self, request, queryset, "paused", lambda t: services.task_pause(task=t))

    @admin.action(description="Resume")
    def resume(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        _run_action(self, request, queryset, "resumed", lambda t: services.task_resume(task=t))

    @admin.action(description="Cancel")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        _run_action(self, request, queryset, "cancelled", lambda t: services.task_cancel(task=t))

    @admin.action(description="Retry (a new run of a finished task)")
    def retry(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        _run_action(self, request, queryset, "restarted", _retry)

    @admin.action(description="Replay (as a new task, from step 1)")
    def replay(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        _run_action(self, request, queryset, "replayed", lambda t: services.task_replay(task=t))

    @admin.action(description="Roll back the last run (undo reversible changes; irreversible ones are listed)")
    def rollback(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        for task in queryset:
            try:
                report = services.task_rollback(task=task)
            except services.RollbackRefused as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            level = messages.WARNING if report["failed"] or report["cannotBeUndone"] else messages.SUCCESS
            self.message_user(request, f"{task.title}: {report['summary']}", level)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "user", "created_at")
    search_fields = ("id", "name", "user__username")
    list_filter = ("user",)


@admin.register(TaskEvent)
class TaskEventAdmin(admin.ModelAdmin):
    Media = PrettyMedia
    list_display = ("task", "seq", "type", "created_at")
    list_filter = ("type",)
    search_fields = ("task__id", "task__title")
    list_select_related = ("task",)
    fields = ("task", "seq", "type", "payload_pretty", "created_at")
    readonly_fields = fields

    @admin.display(description="payload")
    def payload_pretty(self, event: TaskEvent) -> str:
        return pretty(event.payload)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AgentMetrics)
class AgentMetricsAdmin(admin.ModelAdmin):
    list_display = ("date", "agent_type", "tasks_completed", "tasks_failed", "success_rate", "avg_duration",
                    "total_tokens", "total_credits")
    list_filter = ("agent_type", "date")
    date_hierarchy = "date"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Durable queue (dead letters, tool circuits): added by the queue work. -----------------

from .models import DeadLetter, ToolCircuit  # noqa: E402 - this block is appended on purpose


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    """Runs that failed for good: inspect the error and trace, then requeue (continues at the failed step)."""

    Media = PrettyMedia
    list_display = ("created_at", "task", "run", "step", "action", "short_error", "requeued_at")
    list_filter = (("requeued_at", admin.EmptyFieldListFilter), "action")
    search_fields = ("task__id", "task__title", "error")
    list_select_related = ("task",)
    fields = ("task", "run", "step", "action", "error", "trace_pretty", "created_at", "requeued_at")
    readonly_fields = fields
    actions = ["requeue"]

    @admin.display(description="error")
    def short_error(self, row: DeadLetter) -> str:
        return row.error[:120]

    @admin.display(description="trace")
    def trace_pretty(self, row: DeadLetter) -> str:
        return pretty(row.trace)

    @admin.action(description="Requeue the failed runs (continue at the failed step)")
    def requeue(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        done = 0
        for row in queryset:
            try:
                services.dead_letter_requeue(dead_letter=row)
                done += 1
            except services.InvalidTask as exc:
                self.message_user(request, str(exc), messages.WARNING)
        self.message_user(request, f"requeued {done} run(s)")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ToolCircuit)
class ToolCircuitAdmin(admin.ModelAdmin):
    """Each circuit breaker (a tool's host, connection or owner): closed, open (cool-down until
    opened_until) or half_open (probing)."""

    list_display = ("key", "tool", "state", "failures", "opened_at", "opened_until", "last_error", "updated_at")
    list_filter = ("state", "tool")
    search_fields = ("key",)
    readonly_fields = ("key", "tool", "state", "failures", "opened_at", "opened_until", "last_error", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


from . import (  # noqa: E402  (each module registers its models)
    admin_approvals,  # noqa: F401  (Approval: decide as the inbox does; ApprovalPolicy overrides)
    admin_contacts,  # noqa: F401  (Contact and Delivery)
    admin_control,  # noqa: F401  (AuditEntry, WebhookEndpoint and WebhookDelivery)
    admin_credits,  # noqa: F401  (CreditEntry: the ledger, and grants)
    admin_data,  # noqa: F401  (Upload, Lead and EnrichmentLookup)
)
