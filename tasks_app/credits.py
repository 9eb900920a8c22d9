"""Credits for the faces: grant credits (a service), read a balance, its usage and the ledger (selectors).

Usage is read from the ledger only (what was charged, when), so a task run many times or
on a schedule counts every run. Grants are new ledger rows; nothing here edits one.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from . import audit, credit_ledger
from .credit_ledger import CreditEntry

WINDOWS = {"last24h": timedelta(hours=24), "last7d": timedelta(days=7), "last30d": timedelta(days=30)}
DEBITS = (CreditEntry.Reason.PLANNING, CreditEntry.Reason.TOOL, CreditEntry.Reason.TOKENS)
MAX_GRANT = 1_000_000_000


class InvalidGrant(ValueError):
    """The grant's amount or note is not acceptable; the message says why."""


def credits_grant(*, user: User, amount: int, granted_by: Any = None, note: str = "") -> CreditEntry:
    """Give `user` `amount` more credits; a task paused at its credit limit continues once resumed."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_GRANT:
        raise InvalidGrant(f"amount must be a whole number of credits from 1 to {MAX_GRANT}, got {amount!r}")
    with transaction.atomic():
        entry = credit_ledger.grant(user_id=user.id, amount=amount, granted_by=granted_by, note=note)
        audit.record("credits.granted", owner_id=user.id, target_type="credits", target_id=entry.id,
                     details={"amount": amount, "note": note[:200], "user": user.get_username()})
    return entry


def credit_balance(*, user: User) -> int:
    return credit_ledger.balance(user.id)


def credit_usage(*, user: Any, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Credits spent in the last 24 h, 7 d and 30 d, in all and by agent type, from the ledger."""
    now = now or timezone.now()
    debits = CreditEntry.objects.filter(user=user, reason__in=DEBITS, created_at__gte=now - WINDOWS["last30d"])
    sums = {name: Sum("amount", filter=Q(created_at__gte=now - window)) for name, window in WINDOWS.items()}
    by_type = debits.values("agent_type").annotate(**sums).order_by("agent_type")
    usage: dict[str, dict[str, Any]] = {name: {"total": 0, "byAgentType": {}} for name in WINDOWS}
    for row in by_type:
        sums_of_row: dict[str, Any] = dict(row)
        for name in WINDOWS:
            spent = -(sums_of_row[name] or 0)
            if spent:
                usage[name]["byAgentType"][sums_of_row["agent_type"] or "custom"] = spent
                usage[name]["total"] += spent
    return usage


def credit_summary(*, user: User, now: datetime | None = None) -> dict[str, Any]:
    """GET /api/credits: the balance, what was granted, and the usage windows."""
    balance = credit_balance(user=user)  # first: it grants a new user's AGENT_DEFAULT_CREDITS
    granted = CreditEntry.objects.filter(user=user, amount__gt=0).aggregate(total=Sum("amount"))["total"]
    return {"balance": balance, "granted": int(granted or 0), "usage": credit_usage(user=user, now=now)}


def ledger_for_user(*, user: Any, filters: dict[str, Any] | None = None) -> QuerySet[CreditEntry]:
    """The owner's ledger, newest first (filters: taskId, reason)."""
    filters = filters or {}
    rows = CreditEntry.objects.filter(user=user)
    if filters.get("taskId"):
        rows = rows.filter(task_ref=filters["taskId"])
    if filters.get("reason"):
        rows = rows.filter(reason=filters["reason"])
    return rows.order_by("-created_at", "-id")


def entry_as_json(row: CreditEntry) -> dict[str, Any]:
    return {
        "id": row.id, "createdAt": row.created_at.isoformat().replace("+00:00", "Z"), "reason": row.reason,
        "amount": row.amount, "taskId": row.task_ref or None, "run": row.run or None, "step": row.step,
        "action": row.action or None, "agentType": row.agent_type or None, "model": row.model or None,
        "inputTokens": row.input_tokens, "outputTokens": row.output_tokens, "note": row.note,
    }
