"""The built-in CRM, per owner: leads upserted by email, and the enrichment provider's cached answers.

The one place that writes Lead and EnrichmentLookup rows (agents/stores/crm.py and the API
come here). A rerun updates the leads it already wrote; it never adds a second row for an
email, and never replaces a value a lead has with an empty one.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from .agent_data import EnrichmentLookup, Lead
from .models import Task

CHUNK = 1000
LOST = ("unavailable", "error")  # statuses that must not wipe what an earlier run matched


def _empty(value: Any) -> bool:
    return value is None or value == ""


def merged(lead: Lead, row: dict[str, Any], statuses: dict[str, str]) -> None:
    """The row's values over the lead's, except empty ones over known ones; likewise statuses."""
    fields = dict(lead.fields or {})
    for name, value in row.items():
        if not (_empty(value) and not _empty(fields.get(name))):
            fields[name] = value
    enrichment = dict(lead.enrichment or {})
    for name, status in statuses.items():
        if not (status in LOST and enrichment.get(name) == "matched" and not _empty(fields.get(name))):
            enrichment[name] = status
    lead.fields, lead.enrichment = fields, enrichment


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def upsert(*, owner_id: int, task_id: str | None, leads: list[tuple[str, dict[str, Any], dict[str, str]]]
           ) -> dict[str, Any]:
    """Write (email, fields, enrichment statuses) triples, emails already valid, lower-cased and
    unique; returns the created and updated emails. A concurrent insert of the same email is
    retried once as an update."""
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return _upsert(owner_id, task_id, leads)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _upsert(owner_id: int, task_id: str | None, leads: list[tuple[str, dict[str, Any], dict[str, str]]]
            ) -> dict[str, Any]:
    emails = [email for email, _, _ in leads]
    existing: dict[str, Lead] = {}
    for chunk in _chunks(emails):
        existing.update({lead.email: lead for lead in
                         Lead.objects.select_for_update().filter(owner_id=owner_id, email__in=chunk)})
    now, created, updated = timezone.now(), list[Lead](), list[Lead]()
    before = [{"id": lead.id, "fields": lead.fields, "enrichment": lead.enrichment, "taskId": lead.task_id}
              for lead in existing.values()]
    for email, fields, statuses in leads:
        lead = existing.get(email) or Lead(owner_id=owner_id, email=email, created_at=now)
        merged(lead, fields, statuses)
        lead.task_id, lead.updated_at = task_id, now
        (updated if email in existing else created).append(lead)
    Lead.objects.bulk_create(created, batch_size=CHUNK)
    Lead.objects.bulk_update(updated, ["fields", "enrichment", "task", "updated_at"], batch_size=CHUNK)
    return {"created": [lead.email for lead in created], "updated": [lead.email for lead in updated],
            "createdIds": [lead.id for lead in created], "before": before}


def undo(*, owner_id: int, created_ids: list[str], before: list[dict[str, Any]]) -> dict[str, int]:
    """Take back an upsert: delete the leads it created, put back the updated ones as they were."""
    with transaction.atomic():
        deleted, _ = Lead.objects.filter(owner_id=owner_id, id__in=created_ids).delete()
        restored = 0
        tasks = set(Task.objects.filter(id__in=[i.get("taskId") for i in before]).values_list("id", flat=True))
        for image in before:  # a lead keeps pointing at its earlier task only while that task exists
            restored += Lead.objects.filter(owner_id=owner_id, id=image["id"]).update(
                fields=image["fields"], enrichment=image["enrichment"],
                task_id=image.get("taskId") if image.get("taskId") in tasks else None, updated_at=timezone.now())
    return {"deleted": deleted, "restored": restored}


def cached(*, owner_id: int, provider: str, emails: list[str], max_age: timedelta) -> dict[str, EnrichmentLookup]:
    """The owner's fresh lookups of these emails, by email."""
    since, found = timezone.now() - max_age, {}
    for chunk in _chunks(emails):
        found.update({row.email: row for row in EnrichmentLookup.objects.filter(
            owner_id=owner_id, provider=provider, email__in=chunk, fetched_at__gte=since)})
    return found


def remember(*, owner_id: int, provider: str, email: str, status: str, data: dict[str, Any]) -> None:
    EnrichmentLookup.objects.update_or_create(owner_id=owner_id, provider=provider, email=email,
                                              defaults={"status": status, "data": data})


def leads_for(*, owner_id: int, email: str | None = None, task_id: str | None = None) -> QuerySet[Lead]:
    """The owner's leads, filtered by part of the email and by the task that last wrote them."""
    leads = Lead.objects.filter(owner_id=owner_id)
    if email:
        leads = leads.filter(email__icontains=email)
    if task_id:
        leads = leads.filter(task_id=task_id)
    return leads


def remove(lead: Lead) -> None:
    lead.delete()


def describe(lead: Lead) -> dict[str, Any]:
    """The API's shape of a lead: its fields (enrichment fields by their config names) and statuses."""
    def stamp(value: Any) -> str:
        return str(value.isoformat()).replace("+00:00", "Z")

    return {"id": lead.id, "email": lead.email, "fields": lead.fields, "enrichment": lead.enrichment,
            "taskId": lead.task_id, "createdAt": stamp(lead.created_at), "updatedAt": stamp(lead.updated_at)}
