"""The store of people's control over their agents: webhooks, their deliveries, notification
preferences and the append-only audit log. Written only through tasks_app.webhooks,
tasks_app.webhook_delivery, tasks_app.notification_prefs and tasks_app.audit.
"""
from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models

from .ids import new_id

WEBHOOK_EVENTS = ("completed", "failed", "approval_needed", "credit_limit", "step")


class WebhookEndpoint(models.Model):
    """A URL a user registered for some events; its signing secret is stored encrypted (Fernet)."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2048)
    events = models.JSONField(default=list)  # a subset of WEBHOOK_EVENTS
    # denormalised from `events`, so the executor asks one indexed EXISTS per step
    wants_step = models.BooleanField(default=False)
    description = models.CharField(max_length=200, blank=True, default="")
    enabled = models.BooleanField(default=True)
    secret_ciphertext = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["user", "enabled", "wants_step"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events)})"


class WebhookDelivery(models.Model):
    """One event for one endpoint, delivered at least once; retried with backoff until it lands or gives up."""

    class Status(models.TextChoices):
        PENDING = "pending"  # due at next_attempt_at (claimed attempts push it forward)
        DELIVERED = "delivered"
        FAILED = "failed"  # given up: refused by the egress policy, or out of attempts

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=30)
    event_key = models.CharField(max_length=160)  # what happened, once: a redelivered step makes no second row
    task_id = models.CharField(max_length=32, null=True, blank=True)
    payload = models.JSONField(default=dict)  # the body: type, timestamp, data (redacted, never a secret)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_key"], name="one_delivery_per_event")]
        indexes = [models.Index(fields=["status", "next_attempt_at"]), models.Index(fields=["endpoint", "created_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint_id} ({self.status}, {self.attempts} attempt(s))"


class WebhookAttempt(models.Model):
    """One try of a delivery: the receiver's status code, or why no answer came."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.IntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.IntegerField(default=0)
    status_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_row_per_attempt")]
        ordering = ["delivery", "number"]


class NotificationPreference(models.Model):
    """Which notification kinds a user gets by email and which by webhook (no row: the defaults)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="notification_preference")
    email_kinds = models.JSONField(default=list)
    webhook_kinds = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)


class AuditImmutable(Exception):
    """Audit entries are append-only: the app never changes or deletes one."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditImmutable("audit entries are append-only: they cannot be updated")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AuditImmutable("audit entries are append-only: they cannot be deleted")


class AuditEntry(models.Model):
    """Who did what, from where. The people are plain ids with a name snapshot, so deleting a
    user neither cascades into nor rewrites the log."""

    class ActorKind(models.TextChoices):
        API = "api"
        PAGE = "page"
        ADMIN = "admin"
        COMMAND = "command"
        AGENT = "agent"

    user_id = models.IntegerField(null=True, blank=True)  # the person acting (None: the engine)
    username = models.CharField(max_length=150, blank=True, default="")
    owner_id = models.IntegerField(null=True, blank=True)  # whose task/data it concerned: sees it in /api/audit
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    address = models.CharField(max_length=64, blank=True, default="")  # the client address, when a request
    verb = models.CharField(max_length=50)  # task.created, approval.decided ...
    target_type = models.CharField(max_length=30, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)  # redacted before it is stored
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["owner_id", "created_at"]), models.Index(fields=["verb", "created_at"]),
                   models.Index(fields=["target_type", "target_id"])]
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.verb} {self.target_type} {self.target_id} by {self.username or self.actor_kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditImmutable(f"audit entry {self.pk} is append-only: it cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        raise AuditImmutable(f"audit entry {self.pk} is append-only: it cannot be deleted")
