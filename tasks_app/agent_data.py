"""The agents' own data, per owner: contacts and their delivery ledger, uploaded files, the
built-in CRM, enrichment lookups and price observations.

Imported by models.py so Django registers them; read and written through agents/stores,
never by tools directly. Every row belongs to one owner and is never shown to another.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models

from .ids import new_id

OWNER = settings.AUTH_USER_MODEL


class Contact(models.Model):
    """A person a campaign may write to: the audience `trial_day_7` selects from."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    owner = models.ForeignKey(OWNER, on_delete=models.CASCADE, related_name="contacts")
    email = models.EmailField(max_length=254)  # stored lower-cased: unique per owner
    name = models.CharField(max_length=200, blank=True, default="")
    signup_date = models.DateField(null=True, blank=True)
    plan = models.CharField(max_length=50, blank=True, default="")  # "trial", "paid" ...
    attributes = models.JSONField(default=dict, blank=True)  # free fields: features_used ...
    unsubscribed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "email"], name="one_contact_per_email")]
        indexes = [models.Index(fields=["owner", "plan", "signup_date"])]
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class Delivery(models.Model):
    """The campaign ledger: one row per task, recipient and occasion, written before the send,
    so a rerun or a crash never mails the same person twice for the same occasion."""

    class Status(models.TextChoices):
        SENDING = "sending"  # claimed; the send began (outcome unknown if it stays so)
        SENT = "sent"
        FAILED = "failed"  # the send was refused before anything left: may be tried again

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    owner = models.ForeignKey(OWNER, on_delete=models.CASCADE, related_name="deliveries")
    task = models.ForeignKey("tasks_app.Task", on_delete=models.CASCADE, related_name="deliveries")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    recipient = models.EmailField(max_length=254)
    occasion = models.CharField(max_length=100)  # "trial_day_7:2026-12-02", "run:3" ...
    run = models.IntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    message_id = models.CharField(max_length=255, blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "recipient", "occasion"],
                                               name="one_delivery_per_occasion")]
        indexes = [models.Index(fields=["owner", "created_at"])]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.recipient} ({self.occasion}): {self.status}"


def upload_path(instance: Upload, filename: str) -> str:
    return f"uploads/{instance.owner_id}/{instance.id}/{filename}"


class Upload(models.Model):
    """A file a person gave (leads.csv) or a task produced (a report, an export)."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    owner = models.ForeignKey(OWNER, on_delete=models.CASCADE, related_name="uploads")
    name = models.CharField(max_length=255)
    file = models.FileField(upload_to=upload_path, max_length=500)
    size = models.BigIntegerField(default=0)
    content_type = models.CharField(max_length=255, blank=True, default="application/octet-stream")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    task = models.ForeignKey("tasks_app.Task", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="uploads")  # set when a task produced it
    run = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "name", "created_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Lead(models.Model):
    """A row of the built-in CRM (`"output": "crm_database"`), upserted by email per owner."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    owner = models.ForeignKey(OWNER, on_delete=models.CASCADE, related_name="leads")
    email = models.EmailField(max_length=254)  # lower-cased
    fields = models.JSONField(default=dict, blank=True)  # every column, enrichment fields by config name
    enrichment = models.JSONField(default=dict, blank=True)  # per field: status ("matched", "unavailable" ...)
    task = models.ForeignKey("tasks_app.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "email"], name="one_lead_per_email")]
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class EnrichmentLookup(models.Model):
    """A cached answer of the enrichment provider for one email (per owner: no one else's spend)."""

    owner = models.ForeignKey(OWNER, on_delete=models.CASCADE, related_name="enrichment_lookups")
    email = models.EmailField(max_length=254)
    provider = models.CharField(max_length=50, default="peopledatalabs")
    status = models.CharField(max_length=20)  # matched, not_matched
    data = models.JSONField(default=dict, blank=True)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "provider", "email"], name="one_lookup_per_email")]

    def __str__(self) -> str:
        return f"{self.email}: {self.status}"


class PriceObservation(models.Model):
    """One reading of a watched page: what a monitor compares its next run with."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    owner = models.ForeignKey(OWNER, on_delete=models.CASCADE, related_name="price_observations")
    task = models.ForeignKey("tasks_app.Task", on_delete=models.CASCADE, related_name="price_observations")
    run = models.IntegerField()
    url = models.URLField(max_length=2048)
    price = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=10, blank=True, default="")
    text = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    observed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["task", "url", "observed_at"])]
        ordering = ["-observed_at"]

    def __str__(self) -> str:
        return f"{self.url}: {self.price} {self.currency}"
