"""The owner's contacts and the task's delivery ledger for tools (tools.contacts.ContactStore).

The ledger row is claimed (`sending`) in its own committed transaction before a send and
settled after it, so a rerun for the same occasion, or a step re-run after a crash, never
mails anyone twice: only a `failed` row (nothing left) may be claimed again.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from tasks_app import contacts
from tasks_app.agent_data import Contact, Delivery

from . import Scope

MAX_CANDIDATES = 50_000


class Store:
    def __init__(self, scope: Scope):
        self.scope = scope
        self.run = scope.run

    def candidates(self, *, plan: str | None = None, signup_date: date | None = None) -> list[dict[str, Any]]:
        rows = Contact.objects.filter(owner_id=self.scope.owner_id)
        if plan is not None:
            rows = rows.filter(plan=plan)
        if signup_date is not None:
            rows = rows.filter(signup_date=signup_date)
        return [_plain(c) for c in rows.order_by("email")[:MAX_CANDIDATES]]

    def find(self, emails: list[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted({e.lower() for e in emails})
        rows = Contact.objects.filter(owner_id=self.scope.owner_id, email__in=wanted) if wanted else []
        return {c.email: _plain(c) for c in rows}

    def delivered(self, occasion: str, emails: list[str]) -> dict[str, str]:
        rows = Delivery.objects.filter(task_id=self.scope.task_id, occasion=occasion, recipient__in=emails,
                                       status__in=[Delivery.Status.SENT, Delivery.Status.SENDING])
        return dict(rows.values_list("recipient", "status"))

    def claim(self, *, email: str, occasion: str, contact_id: str | None) -> str:
        if contact_id and not Contact.objects.filter(id=contact_id, owner_id=self.scope.owner_id).exists():
            contact_id = None  # deleted since the audience was selected: the ledger keeps the address
        with transaction.atomic():
            row, created = Delivery.objects.get_or_create(
                task_id=self.scope.task_id, recipient=email, occasion=occasion,
                defaults={"owner_id": self.scope.owner_id, "contact_id": contact_id, "run": self.run})
            if created:
                return "claimed"
            retried = Delivery.objects.filter(id=row.id, status=Delivery.Status.FAILED).update(
                status=Delivery.Status.SENDING, run=self.run, error="")
        return "claimed" if retried else row.status

    def settle(self, *, email: str, occasion: str, message_id: str = "", error: str = "") -> None:
        rows = Delivery.objects.filter(task_id=self.scope.task_id, recipient=email, occasion=occasion,
                                       status=Delivery.Status.SENDING)
        if error:
            rows.update(status=Delivery.Status.FAILED, error=error[:2000])
        else:
            rows.update(status=Delivery.Status.SENT, message_id=message_id[:255], sent_at=timezone.now())

    def unsubscribe_url(self, email: str) -> str:
        return contacts.unsubscribe_url(owner_id=self.scope.owner_id, email=email)


def _plain(contact: Contact) -> dict[str, Any]:
    return {"id": contact.id, "email": contact.email, "name": contact.name, "plan": contact.plan,
            "signup_date": contact.signup_date.isoformat() if contact.signup_date else None,
            "attributes": contact.attributes or {}, "unsubscribed": contact.unsubscribed}
