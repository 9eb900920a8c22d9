"""The owner's built-in CRM for tools (tools.data.CrmStore), over tasks_app.crm."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from tasks_app import crm
from tools.enrichment import PROVIDER

from . import Scope


class Store:
    def __init__(self, scope: Scope):
        self.scope = scope

    def upsert(self, leads: list[tuple[str, dict[str, Any], dict[str, str]]]) -> dict[str, Any]:
        return crm.upsert(owner_id=self.scope.owner_id, task_id=self.scope.task_id, leads=leads)

    def undo(self, created_ids: list[str], before: list[dict[str, Any]]) -> dict[str, int]:
        return crm.undo(owner_id=self.scope.owner_id, created_ids=created_ids, before=before)

    def cached(self, emails: list[str], max_age_s: float) -> dict[str, dict[str, Any]]:
        rows = crm.cached(owner_id=self.scope.owner_id, provider=PROVIDER, emails=emails,
                          max_age=timedelta(seconds=max_age_s))
        return {email: {"status": row.status, "data": row.data} for email, row in rows.items()}

    def remember(self, email: str, status: str, data: dict[str, Any]) -> None:
        crm.remember(owner_id=self.scope.owner_id, provider=PROVIDER, email=email, status=status, data=data)
