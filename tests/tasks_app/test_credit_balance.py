"""The balance the database keeps equals the ledger's sum, whichever way rows come and go."""
from __future__ import annotations

from django.db.models import Sum

from tasks_app import credit_ledger
from tasks_app.credit_ledger import CreditBalance, CreditEntry
from tasks_app.models import Task


def ledger_sum(user) -> int:
    return CreditEntry.objects.filter(user=user).aggregate(total=Sum("amount"))["total"] or 0


def test_grants_debits_a_repeated_debit_and_a_deleted_row_all_move_the_balance(db, user, settings):
    settings.AGENT_DEFAULT_CREDITS = 1_000
    assert credit_ledger.balance(user.id) == 1_000  # the signup grant, on first use
    credit_ledger.grant(user_id=user.id, amount=250, note="a top-up")
    task = Task.objects.create(user=user, title="t")
    credit_ledger.debit(task=task, run=1, step=1, reason="tool", amount=40)
    credit_ledger.debit(task=task, run=1, step=1, reason="tool", amount=40)  # the same step again: nothing
    CreditEntry.objects.bulk_create([CreditEntry(user=user, reason="grant", amount=5),
                                     CreditEntry(user=user, reason="grant", amount=7)])
    assert credit_ledger.balance(user.id) == 1_000 + 250 - 40 + 12 == ledger_sum(user)
    CreditEntry.objects.filter(user=user, amount=7).delete()
    assert CreditBalance.objects.get(user=user).balance == 1_000 + 250 - 40 + 5 == ledger_sum(user)
