"""Admin for people's control: the full audit log (read only, never deleted), webhooks and their deliveries.

Nothing here writes a row directly: turning a webhook off goes through tasks_app.webhooks,
which records it in the audit log with the operator as the actor.
"""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import webhooks
from .admin import PrettyMedia, pretty
from .control_data import AuditEntry, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnly):
    """Who did what, from where: every user's entries. Append-only: no edit, no delete."""

    Media = PrettyMedia
    list_display = ("created_at", "verb", "actor_kind", "username", "address", "owner_id", "target_type", "target_id")
    list_filter = ("actor_kind", "verb", "target_type")
    search_fields = ("verb", "username", "target_id", "address")
    date_hierarchy = "created_at"
    fields = ("created_at", "verb", "actor_kind", "user_id", "username", "address", "owner_id", "target_type",
              "target_id", "details_pretty")
    readonly_fields = fields

    @admin.display(description="details")
    def details_pretty(self, row: AuditEntry) -> str:
        return pretty(row.details)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}  # not even the bulk delete action


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnly):
    """Users' webhooks (the secret is never shown); disable or enable them through the service."""

    list_display = ("url", "user", "events", "enabled", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "user__username")
    fields = ("id", "user", "url", "events", "description", "enabled", "created_at", "updated_at")
    readonly_fields = fields
    actions = ["disable", "enable"]

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint], enabled: bool) -> None:
        for endpoint in queryset:
            webhooks.webhook_update(endpoint=endpoint, changes={"enabled": enabled})
        self.message_user(request, f"{'enabled' if enabled else 'disabled'} {queryset.count()} webhook(s)",
                          messages.SUCCESS)

    @admin.action(description="Disable the selected webhooks (nothing more is sent)")
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._set_enabled(request, queryset, False)

    @admin.action(description="Enable the selected webhooks")
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._set_enabled(request, queryset, True)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "duration_ms", "status_code", "error")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnly):
    """Each event sent to each endpoint, with every attempt."""

    Media = PrettyMedia
    list_display = ("created_at", "event", "endpoint", "task_id", "status", "attempts", "last_status_code",
                    "next_attempt_at")
    list_filter = ("status", "event")
    search_fields = ("id", "task_id", "endpoint__url")
    list_select_related = ("endpoint",)
    fields = ("id", "endpoint", "event", "event_key", "task_id", "status", "attempts", "next_attempt_at",
              "last_status_code", "last_error", "created_at", "delivered_at", "payload_pretty")
    readonly_fields = fields
    inlines = [WebhookAttemptInline]

    @admin.display(description="payload")
    def payload_pretty(self, row: WebhookDelivery) -> str:
        return pretty(row.payload)
