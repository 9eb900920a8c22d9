"""Reads of a user's other data the API lists: dead letters, files, price readings, CRM leads, webhooks
and their deliveries, the audit log and approval-policy overrides (a selector: reads only).

Every read is scoped to its owner; a lookup by id answers None for another user's row, like a
missing one. The API shapes the answers (its response serializers); the services change them.
"""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .agent_data import Lead, PriceObservation, Upload
from .control_data import AuditEntry, WebhookDelivery, WebhookEndpoint
from .models import ApprovalPolicy, DeadLetter


def dead_letters_for_user(*, user: Any, requeued: bool | None = None) -> QuerySet[DeadLetter]:
    """The user's dead letters, newest first; requeued False: those still waiting, True: those requeued."""
    rows = DeadLetter.objects.select_related("task").filter(task__user=user).order_by("-created_at")
    return rows if requeued is None else rows.filter(requeued_at__isnull=not requeued)


def dead_letter_of_user(*, user: Any, dead_letter_id: str) -> DeadLetter | None:
    return DeadLetter.objects.select_related("task").filter(id=dead_letter_id, task__user=user).first()


def files_for_user(*, user: Any, name: str = "") -> QuerySet[Upload]:
    """The user's files, newest first; `name`: those whose name contains it."""
    files = Upload.objects.filter(owner=user).order_by("-created_at", "-id")
    return files.filter(name__icontains=name) if name else files


def file_of_user(*, user: Any, file_id: str) -> Upload | None:
    return Upload.objects.filter(id=file_id, owner=user).first()


def price_readings_for_user(*, user: Any, task_id: str = "", url: str = "") -> QuerySet[PriceObservation]:
    """The user's price readings, newest first, of one task or one URL when given."""
    rows = PriceObservation.objects.filter(owner=user)
    if task_id:
        rows = rows.filter(task_id=task_id)
    if url:
        rows = rows.filter(url=url)
    return rows.order_by("-observed_at", "-id")


def lead_of_user(*, user: Any, lead_id: str) -> Lead | None:
    return Lead.objects.filter(id=lead_id, owner=user).first()


def webhooks_for_user(*, user: Any) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(user=user).order_by("created_at")


def webhook_of_user(*, user: Any, webhook_id: str) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(id=webhook_id, user=user).first()


def webhook_deliveries(endpoint: WebhookEndpoint, *, status: str | None = None) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries with their attempts, newest first (one status when given)."""
    rows = WebhookDelivery.objects.filter(endpoint=endpoint).prefetch_related("attempt_rows")
    rows = rows if status is None else rows.filter(status=status)
    return rows.order_by("-created_at", "-id")


def audit_entries_for_owner(*, owner_id: int, verb: str = "", target_type: str = "",
                            target_id: str = "") -> QuerySet[AuditEntry]:
    """The audit entries whose owner is the user, newest first; a verb ending in `*` is a prefix."""
    rows = AuditEntry.objects.filter(owner_id=owner_id)
    if verb:
        rows = rows.filter(verb__startswith=verb[:-1]) if verb.endswith("*") else rows.filter(verb=verb)
    if target_type:
        rows = rows.filter(target_type=target_type)
    if target_id:
        rows = rows.filter(target_id=target_id)
    return rows.order_by("-created_at", "-id")


def policy_overrides_for_user(*, user: Any) -> QuerySet[ApprovalPolicy]:
    return ApprovalPolicy.objects.filter(user=user).order_by("name", "project_id")
