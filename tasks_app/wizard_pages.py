"""The wizard's live check (POST /tasks/new/check): field errors, the schedule in words, the plan preview.

The page's JS posts the draft as the person types; the answer comes from tasks_app/wizard_check.py.
"""
from __future__ import annotations

import json
from typing import Any, cast

from django import forms as django_forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from . import wizard_check
from .forms import MAX_JSON_BYTES, json_object

RAW = "json"  # the key of an error in the raw JSON text itself


def _draft(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > 3 * MAX_JSON_BYTES:
        raise ValueError(f"the draft must be at most {3 * MAX_JSON_BYTES} bytes")
    try:
        draft = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("the body must be a JSON object: {\"kind\": ..., \"config\": \"...\"}") from None
    if not isinstance(draft, dict):
        raise ValueError("the body must be a JSON object: {\"kind\": ..., \"config\": \"...\"}")
    return draft


def _text(draft: dict[str, Any], key: str) -> str:
    value = draft.get(key)
    return value if isinstance(value, str) else ""


@login_required
@require_POST
def check(request: HttpRequest) -> JsonResponse:
    try:
        draft = _draft(request)
    except ValueError as exc:
        return JsonResponse({"error": {"code": "invalid", "message": str(exc)}}, status=400)
    kind = _text(draft, "kind")
    try:
        config = json_object(_text(draft, "config"), "the configuration")
        plan = json_object(_text(draft, "plan"), "the plan") if kind == "plan" else None
    except django_forms.ValidationError as exc:
        return JsonResponse({"errors": {RAW: " ".join(exc.messages)}, "schedule": None, "preview": None})
    owner = cast(User, request.user)
    return JsonResponse(wizard_check.check(kind=kind, config=config, plan=plan, title=_text(draft, "title")[:200],
                                           owner_id=owner.id))
