"""Per-user and per-project approval policy overrides (ApprovalPolicy rows): the use cases.

A rule replaces the default policy of its name (settings.AGENT_APPROVAL_POLICIES) or adds
one; disabling drops it for that user or project. Rules are checked (agents/policies.py)
before they are stored, so a stored rule always means something.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from agents import policies

from . import audit
from .models import ApprovalPolicy, Project


class InvalidPolicy(ValueError):
    """The override does not make sense; the message names what is wrong."""


def effective(*, user: User, project: Project | None = None) -> list[dict[str, Any]]:
    """The rules that apply to the user's tasks (in that project): defaults with their overrides."""
    return policies.rules_for(user.id, project.id if project else None)


def policy_set(*, user: User, name: str, enabled: bool = True, rule: dict[str, Any] | None = None,
               project: Project | None = None) -> ApprovalPolicy:
    """Store (or replace) the user's (or project's) rule of this name; disabled needs no rule."""
    rule = {k: v for k, v in (rule or {}).items() if k != "name"}
    defaults = {r["name"]: r for r in policies.rules_for(None)}
    if enabled and not rule:
        if name not in defaults:
            raise InvalidPolicy(f"rule: {name!r} is not a default policy ({', '.join(defaults)}): give its rule")
        rule = {k: v for k, v in defaults[name].items() if k != "name"}
    problems = policies.check_rule({**rule, "name": name}) if enabled else []
    if problems:
        raise InvalidPolicy(f"rule: {'; '.join(problems)}")
    with transaction.atomic():
        row, _ = ApprovalPolicy.objects.update_or_create(user=user, project=project, name=name,
                                                         defaults={"enabled": enabled, "rule": rule})
        audit.record("approval_policy.set", owner_id=user.id, target_type="approval_policy", target_id=row.id,
                     details={"name": name, "enabled": enabled, "rule": rule,
                              "projectId": project.id if project else None})
    return row


def policy_delete(*, user: User, name: str, project: Project | None = None) -> bool:
    """Drop the override: the default of that name (if any) applies again."""
    with transaction.atomic():
        deleted, _ = ApprovalPolicy.objects.filter(user=user, project=project, name=name).delete()
        if deleted:
            audit.record("approval_policy.deleted", owner_id=user.id, target_type="approval_policy", target_id=name,
                         details={"name": name, "projectId": project.id if project else None})
    return bool(deleted)
