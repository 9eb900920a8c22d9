"""The approvals inbox page: every pending question for the logged-in user, to approve, edit, reject or answer.

Thin like the API: reads through selectors, decisions through services.approval_decide;
another user's approval is a 404. Forms post plain HTML (no script needed).
"""
from __future__ import annotations

import json
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import selectors, services
from .models import Approval

STATUSES = [*Approval.Status.values, "all"]


@login_required
def inbox(request: HttpRequest, *, error: str = "", failed_id: str = "", status: int = 200) -> HttpResponse:
    shown = request.GET.get("status", "pending")
    shown = shown if shown in STATUSES else "pending"
    rows = list(selectors.approvals_for_user(user=request.user, status=shown)[:100])
    return render(request, "tasks_app/approvals.html", {
        "rows": [(row, _input_text(row)) for row in rows], "status": shown, "statuses": STATUSES,
        "error": error, "failed_id": failed_id,
    }, status=status)


def _input_text(row: Approval) -> str:
    value = row.edited_input if row.edited_input is not None else row.input
    return json.dumps(value, indent=2, ensure_ascii=False) if value is not None else ""


@login_required
@require_POST
def decide(request: HttpRequest, approval_id: str) -> HttpResponse:
    approval = selectors.approval_of_user(user=request.user, approval_id=approval_id[:32])
    if approval is None:
        raise Http404("no such approval")
    try:
        services.approval_decide(approval=approval, user=cast(User, request.user), **_decision(request, approval))
    except (services.InvalidTask, ValueError) as exc:
        return inbox(request, error=str(exc), failed_id=approval.id, status=400)
    return redirect("approvals-page")


def _decision(request: HttpRequest, approval: Approval) -> dict[str, Any]:
    """The form's fields as approval_decide's arguments (a bad JSON edit: ValueError naming it)."""
    choice = request.POST.get("decision", "")
    if choice == "reject":
        return {"approve": False, "reason": request.POST.get("reason", "")[:2000]}
    decision: dict[str, Any] = {"approve": True}
    if approval.kind == Approval.Kind.UNKNOWN_OUTCOME:
        decision["done"] = choice == "done"
    if approval.kind == Approval.Kind.QUESTION:
        decision["answer"] = request.POST.get("answer", "")
    if choice == "edit" and approval.scope == Approval.Scope.RUN:
        decision["input"] = {"recipients": [line.strip() for line in request.POST.get("recipients", "").splitlines()
                                            if line.strip()]}
    elif choice == "edit":
        try:
            edit = json.loads(request.POST.get("input", ""))
        except json.JSONDecodeError as exc:
            raise ValueError(f"input: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(edit, dict):
            raise ValueError("input: must be a JSON object")
        decision["input"] = edit
    return decision
