"""The credit ledger: every grant and every debit of a user's credits, append-only; the balance is its sum.

A debit names its task, run, step and reason, and is unique on them, so a step that runs
again (a retry, a redelivered message, a resumed run) is never charged twice. Rows are
only inserted here, never updated or deleted by the app (a deleted task leaves its debits,
with the task's id kept in task_ref).
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q, Subquery, Sum

from .compiled_insert import CompiledInsert
from .owner_facts import known


class CreditEntry(models.Model):
    class Reason(models.TextChoices):
        SIGNUP = "signup"  # AGENT_DEFAULT_CREDITS, granted once per user on first use
        GRANT = "grant"  # credits given by an operator (admin, manage.py grant_credits)
        PLANNING = "planning"  # making a run's plan (step 0)
        TOOL = "tool"  # an action's flat cost (tools/base.py Action.credits)
        TOKENS = "tokens"  # the model's tokens of a step, priced by AGENT_TOKEN_PRICES

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_entries")
    task = models.ForeignKey("tasks_app.Task", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="credit_entries")
    task_ref = models.CharField(max_length=32, blank=True, default="")  # the task's id, kept if it is deleted
    agent_type = models.CharField(max_length=50, blank=True, default="")  # of the task, for usage by type
    run = models.IntegerField(default=0)
    step = models.IntegerField(default=0)  # 0: planning, or not a step (grants)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    amount = models.IntegerField()  # credits: positive for grants, negative for debits
    action = models.CharField(max_length=100, blank=True, default="")
    model = models.CharField(max_length=100, blank=True, default="")
    input_tokens = models.IntegerField(default=0)
    output_tokens = models.IntegerField(default=0)
    note = models.TextField(blank=True, default="")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="credit_grants")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task_ref", "run", "step", "reason"], condition=~Q(task_ref=""),
                                    name="one_debit_per_step_and_reason"),
            models.UniqueConstraint(fields=["user"], condition=Q(reason="signup"), name="one_signup_grant"),
        ]
        indexes = [models.Index(fields=["user", "created_at"]), models.Index(fields=["task_ref", "run"])]
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "credit entries"

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.reason} for user {self.user_id}"


class CreditBalance(models.Model):
    """The sum of a user's ledger, kept by the database: a trigger on every ledger INSERT (and DELETE)
    adds the row's amount (migration 0013), so reading a balance is one indexed row, not a sum over
    every step the user ever ran, and no code path can add an entry without moving it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="credit_balance")
    balance = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.balance} credits for user {self.user_id}"


def ensure_signup_grant(user_id: int) -> None:
    """The new user's AGENT_DEFAULT_CREDITS, once (the unique constraint decides a race)."""
    if not CreditEntry.objects.filter(user_id=user_id, reason=CreditEntry.Reason.SIGNUP).exists():
        CreditEntry.objects.get_or_create(user_id=user_id, reason=CreditEntry.Reason.SIGNUP,
                                          defaults={"amount": settings.AGENT_DEFAULT_CREDITS,
                                                    "note": "AGENT_DEFAULT_CREDITS for a new user"})


BALANCE, SIGNED_UP = "owner_credit_balance", "owner_signup_granted"


def owner_facts() -> dict[str, Any]:
    """The owner's balance and whether they got their signup grant (tasks_app/owner_facts.py)."""
    signup = CreditEntry.objects.filter(user_id=OuterRef("user_id"), reason=CreditEntry.Reason.SIGNUP)
    return {BALANCE: Subquery(CreditBalance.objects.filter(user_id=OuterRef("user_id")).values("balance")[:1]),
            SIGNED_UP: Exists(signup.order_by())}


def balance_of_owner(task: Any) -> int:
    """balance() of the task's owner, as the step read it with the owner when it could."""
    if known(task, SIGNED_UP) is True:
        return int(known(task, BALANCE) or 0)
    return balance(task.user_id)


def balance(user_id: int) -> int:
    """The user's credits now: every grant minus every debit."""
    ensure_signup_grant(user_id)
    return int(CreditBalance.objects.filter(user_id=user_id).values_list("balance", flat=True).first() or 0)


DEBIT_ROW = CompiledInsert(CreditEntry, ignore_conflicts=True)  # every charged step writes one


def debit(*, task: Any, run: int, step: int, reason: str, amount: int, **details: Any) -> None:
    """Charge `amount` credits for the task's step; nothing is written if it was charged already
    (one INSERT that the unique constraint turns into nothing: ON CONFLICT DO NOTHING).

    The signup grant is ensured where the balance is read (balance(), the step's owner facts), which
    every charged step does first; a debit does not depend on it."""
    if amount <= 0:
        return
    DEBIT_ROW.insert(task_ref=task.id, run=run, step=step, reason=reason, user_id=task.user_id, task_id=task.id,
                     agent_type=task.agent_type or "custom", amount=-amount, **details)


def charged(task_id: str, run: int) -> int:
    """What the ledger charged for one run of a task (a positive number)."""
    total = CreditEntry.objects.filter(task_ref=task_id, run=run, amount__lt=0).aggregate(total=Sum("amount"))
    return -int(total["total"] or 0)


def grant(*, user_id: int, amount: int, granted_by: Any = None, note: str = "") -> CreditEntry:
    """Give the user `amount` more credits (a new row; the ledger is never edited)."""
    ensure_signup_grant(user_id)
    return CreditEntry.objects.create(user_id=user_id, reason=CreditEntry.Reason.GRANT, amount=amount,
                                      granted_by=granted_by, note=note[:2_000])
