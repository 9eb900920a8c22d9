"""Admin for approvals (decide them as the inbox does: approve, edit then approve, reject with a reason,
answer) and for per-user or per-project approval policy overrides.

Nothing here writes an Approval directly: a decision goes through services.approval_decide, an
override through tasks_app.policy_overrides, so both are checked and audited as from the API.
"""
from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from agents import policies

from . import policy_overrides, services
from .admin import PrettyMedia, pretty
from .models import Approval, ApprovalPolicy

DECISIONS = [("", "(leave undecided)"), ("approve", "Approve as asked"), ("edit", "Approve with the edited input"),
             ("reject", "Reject"), ("done", "Unknown outcome: it happened"),
             ("not-done", "Unknown outcome: it did not happen")]


class DecideForm(forms.ModelForm):
    decision = forms.ChoiceField(choices=DECISIONS, required=False)
    edited = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8}),
                             help_text='the input to run instead, as JSON (a run-wide approval: {"recipients": [...]})')
    reason_text = forms.CharField(required=False, max_length=2000, label="Reason (rejecting)")
    answer_text = forms.CharField(required=False, max_length=10_000, label="Answer (a question)")

    class Meta:
        model = Approval
        fields: list[str] = []

    def clean_edited(self) -> dict[str, Any] | None:
        text = self.cleaned_data.get("edited") or ""
        if not text.strip():
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("must be a JSON object")
        return value


@admin.register(Approval)
class ApprovalAdmin(admin.ModelAdmin):
    """Every user's approvals; deciding one here is the same decision as in the inbox."""

    Media = PrettyMedia
    form = DecideForm
    list_display = ("created_at", "task", "step", "kind", "action", "policy", "status", "irreversible", "expires_at")
    list_filter = ("status", "kind", "irreversible", "scope")
    search_fields = ("task__id", "task__title", "action", "policy")
    readonly_fields = ("task", "run", "step", "kind", "scope", "action", "policy", "why", "question", "choices",
                       "recipients", "covers", "irreversible", "input_pretty", "edited_pretty", "decision_pretty",
                       "status", "answer", "reason", "done", "decided_by", "decided_at", "expires_at", "created_at")
    fieldsets = [(None, {"fields": readonly_fields}),
                 ("Decide", {"fields": ("decision", "edited", "reason_text", "answer_text")})]

    @admin.display(description="input (as asked, secrets masked)")
    def input_pretty(self, row: Approval) -> str:
        return pretty(row.input)

    @admin.display(description="edited input")
    def edited_pretty(self, row: Approval) -> str:
        return pretty(row.edited_input)

    @admin.display(description="the model's decision")
    def decision_pretty(self, row: Approval) -> str:
        return pretty(row.decision)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Approval, form: Any, change: bool) -> None:
        choice = form.cleaned_data.get("decision")
        if not choice:
            return
        decision: dict[str, Any] = {"approve": choice != "reject"}
        if choice in ("done", "not-done"):
            decision["done"] = choice == "done"
        if choice == "reject":
            decision["reason"] = form.cleaned_data.get("reason_text") or ""
        if choice == "edit":
            decision["input"] = form.cleaned_data.get("edited") or {}
        if obj.kind == Approval.Kind.QUESTION and choice != "reject":
            decision["answer"] = form.cleaned_data.get("answer_text") or ""
        try:
            services.approval_decide(approval=Approval.objects.get(id=obj.id), user=request.user,  # type: ignore[arg-type]
                                     **decision)
        except services.InvalidTask as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"approval {obj.id}: {choice}")


class PolicyForm(forms.ModelForm):
    class Meta:
        model = ApprovalPolicy
        fields = ["user", "project", "name", "enabled", "rule"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("enabled") and data.get("rule"):
            problems = policies.check_rule({**data["rule"], "name": data.get("name") or "?"})
            if problems:
                raise forms.ValidationError("; ".join(problems))
        return data


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    """A user's or a project's override of an approval policy (by name), stored as data."""

    form = PolicyForm
    list_display = ("name", "user", "project", "enabled", "updated_at")
    list_filter = ("enabled", "name")
    search_fields = ("name", "user__username")

    def save_model(self, request: HttpRequest, obj: ApprovalPolicy, form: Any, change: bool) -> None:
        try:
            saved = policy_overrides.policy_set(user=obj.user, name=obj.name, enabled=obj.enabled, rule=obj.rule,
                                                project=obj.project)
        except policy_overrides.InvalidPolicy as exc:
            messages.error(request, str(exc))
            return
        obj.pk, obj.id = saved.pk, saved.id
