"""Admin for the credit ledger: every grant and charge, read only; "Add" grants credits to a user.

A grant goes through tasks_app.credits (the service), as a new row; no row is ever changed
or deleted here.
"""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from . import credits
from .credit_ledger import CreditEntry


class GrantForm(forms.ModelForm):
    class Meta:
        model = CreditEntry
        fields = ("user", "amount", "note")
        help_texts = {"amount": f"whole credits to add, 1 to {credits.MAX_GRANT}",
                      "note": "why (kept in the ledger)"}

    def clean_amount(self) -> int:
        amount = self.cleaned_data["amount"]
        if not 1 <= amount <= credits.MAX_GRANT:
            raise forms.ValidationError(f"a grant is 1 to {credits.MAX_GRANT} credits")
        return int(amount)


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "reason", "amount", "task_ref", "run", "step", "action", "model",
                    "input_tokens", "output_tokens", "granted_by")
    list_filter = ("reason", "agent_type")
    search_fields = ("user__username", "user__email", "task_ref", "action", "note")
    date_hierarchy = "created_at"
    list_select_related = ("user", "granted_by")
    readonly_fields = ("created_at", "user", "task", "task_ref", "agent_type", "run", "step", "reason", "amount",
                       "action", "model", "input_tokens", "output_tokens", "note", "granted_by")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:  # adding: the grant form
            kwargs["form"] = GrantForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else GrantForm.Meta.fields

    def save_model(self, request: HttpRequest, obj: CreditEntry, form: Any, change: bool) -> None:
        entry = credits.credits_grant(user=obj.user, amount=obj.amount, granted_by=request.user, note=obj.note)
        obj.pk, obj.reason, obj.created_at, obj.granted_by = entry.pk, entry.reason, entry.created_at, entry.granted_by

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
