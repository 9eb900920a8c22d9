"""Approval policies: which calls need a person's yes, decided from facts about the call.

A policy (settings.AGENT_APPROVAL_POLICIES, overridden by name per user or project through
ApprovalPolicy rows) matches on the side-effect class and facts about the input: does it
write to an outside system, delete data, pay, or reach more than N recipients over the
whole run. Facts come from the action and its input alone: no tool is called, no secret read.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Exists, OuterRef

from tasks_app.models import ApprovalPolicy
from tools import registry
from tools.base import SideEffect
from tools.errors import ToolInputError

RULE_KEYS = {"name", "reason", "actions", "side_effects", "outside", "deletion", "min_recipients",
             "except_hosts", "except_connections"}
CONDITIONS = RULE_KEYS - {"name", "reason", "except_hosts", "except_connections"}
RECIPIENT_PARAMS = ("to", "cc", "bcc", "recipients")  # `recipients`: a campaign's whole batch
MESSAGE_TOOLS = ("email", "campaign")  # reach people, counted by recipients, not an "outside system"
# Writes to the engine's own store (the owner's files, the built-in CRM) and compensations.
OWN_DATA = ("research.report", "data.rollback", "database.rollback")
GOOGLE_TOOLS = ("calendar", "drive")
BROWSER_STATE = "browser"  # tools/browser_session.py STATE_KEY: where the page the session is on is kept


@dataclass(frozen=True)
class Facts:
    """What a call would do, as the policies see it."""

    action: str
    side_effect: str  # read, write, irreversible
    outside: bool  # it writes to a system outside the engine (not the owner's own data)
    host: str = ""  # the host it writes to, when it has one
    connection: str = ""  # the AGENT_DATABASES connection it writes to, when it has one
    deletion: bool = False
    recipients: tuple[str, ...] = ()  # every address this call writes to
    inverses: tuple[str, ...] = ()  # what may undo it (rollback)

    @property
    def target(self) -> str:
        return self.host or (f"connection {self.connection!r}" if self.connection else "")


@dataclass(frozen=True)
class Match:
    name: str
    reason: str
    why: str  # the facts that made it match, in words
    run_wide: bool = False  # counted over the run's recipients (one approval may cover several steps)


def facts_of(action: str, params: dict[str, Any], state: dict[str, Any] | None = None) -> Facts:
    """The facts of calling `action` with `params`; a browser write's host is the page it is on."""
    try:
        declared = registry.get_action(action)
        side_effect, inverses = declared.side_effect.value, declared.inverses
    except ToolInputError:  # an unknown action never acts (the step fails and the model reads why)
        side_effect, inverses = SideEffect.READ.value, ()
    tool, _, name = action.partition(".")
    host, connection = _target(tool, action, params, state or {})
    writes = side_effect != SideEffect.READ.value
    own = action in OWN_DATA or tool in MESSAGE_TOOLS or (action == "data.write" and not connection)
    trusted = host in cast(list[str], settings.AGENT_WRITE_TRUSTED_HOSTS)
    return Facts(action=action, side_effect=side_effect, outside=writes and not own and not trusted, host=host,
                 connection=connection, deletion=writes and name.lower().endswith("delete"),
                 recipients=tuple(addresses(params)) if writes else (), inverses=inverses)


def _target(tool: str, action: str, params: dict[str, Any], state: dict[str, Any]) -> tuple[str, str]:
    if tool in ("database",) or (action == "data.write" and params.get("connection")):
        return "", str(params.get("connection") or "default")
    if tool == "browser":
        return _host(str((state.get(BROWSER_STATE) or {}).get("url") or params.get("url") or "")), ""
    if tool in GOOGLE_TOOLS:
        return _host(str(getattr(settings, "GOOGLE_API_BASE_URL", "") or "https://www.googleapis.com")), ""
    return _host(str(params.get("url") or "")), ""


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def addresses(params: dict[str, Any]) -> list[str]:
    """Every address the call writes to: people, not calls (a campaign's recipients are objects)."""
    found: list[str] = []
    for key in RECIPIENT_PARAMS:
        value = params.get(key)
        for item in value if isinstance(value, list) else [value] if value else []:
            address = str(item.get("email", "")) if isinstance(item, dict) else str(item)
            if address and address not in found:
                found.append(address)
    return found


def cannot_be_undone(facts: Facts) -> str | None:
    """Why the call, once made, cannot be taken back (None when rollback can undo it)."""
    if facts.side_effect == SideEffect.IRREVERSIBLE.value:
        return f"{facts.action} cannot be undone (it is irreversible)"
    if facts.action.split(".", 1)[0] in MESSAGE_TOOLS and facts.side_effect != SideEffect.READ.value:
        return f"{facts.action} sends email, which cannot be unsent"
    if facts.outside and not facts.inverses:
        return f"{facts.action} cannot be undone: rollback has no compensation for it"
    return None


HAS_OVERRIDES = "owner_has_policy_overrides"


def owner_facts() -> dict[str, Any]:
    """Whether the owner overrides any policy (tasks_app/owner_facts.py): read with the step's owner."""
    return {HAS_OVERRIDES: Exists(ApprovalPolicy.objects.filter(user_id=OuterRef("user_id")))}


def rules_for(user_id: int | None, project_id: str | None = None, *, overrides: bool = True) -> list[dict[str, Any]]:
    """The defaults, overridden by name by the user's rules, then by the project's
    (`overrides` False: the caller knows the user has none)."""
    rules = {rule["name"]: rule for rule in cast(list[dict[str, Any]], settings.AGENT_APPROVAL_POLICIES)}
    if user_id is not None and overrides:
        rows = ApprovalPolicy.objects.filter(user_id=user_id, project__isnull=True)
        if project_id:
            rows = rows | ApprovalPolicy.objects.filter(user_id=user_id, project_id=project_id)
        for row in sorted(rows, key=lambda r: r.project_id is not None):  # the project's last: it wins
            if row.enabled:
                rules[row.name] = {**row.rule, "name": row.name}
            else:
                rules.pop(row.name, None)
    return list(rules.values())


def check_rule(rule: Any) -> list[str]:
    """What is wrong with a rule given as data (empty when it is valid)."""
    if not isinstance(rule, dict):
        return ["a rule is an object"]
    problems = [f"unknown key {key!r} (known: {', '.join(sorted(RULE_KEYS))})" for key in rule if key not in RULE_KEYS]
    if not any(key in rule for key in CONDITIONS):
        problems.append(f"a rule needs at least one condition: {', '.join(sorted(CONDITIONS))}")
    for key in ("actions", "side_effects", "except_hosts", "except_connections"):
        if key in rule and not (isinstance(rule[key], list) and all(isinstance(v, str) for v in rule[key])):
            problems.append(f"{key} must be a list of strings")
    bad = set(rule.get("side_effects") or []) - {s.value for s in SideEffect} if isinstance(
        rule.get("side_effects"), list) else set()
    problems += [f"side_effects: unknown class {value!r} (read, write, irreversible)" for value in sorted(bad)]
    for key in ("outside", "deletion"):
        if key in rule and not isinstance(rule[key], bool):
            problems.append(f"{key} must be true or false")
    limit = rule.get("min_recipients")
    if "min_recipients" in rule and not (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1):
        problems.append("min_recipients must be a whole number of at least 1")
    if "reason" in rule and not (isinstance(rule["reason"], str) and len(rule["reason"]) <= 500):
        problems.append("reason must be text of at most 500 characters")
    return problems


def matches(rules: Iterable[dict[str, Any]], facts: Facts,
            run_recipients: Callable[[], list[str]]) -> list[Match]:
    """Every rule the call matches, with why; `run_recipients` is asked only when a rule counts them."""
    found = []
    for rule in rules:
        why = _why(rule, facts, run_recipients)
        if why is not None:
            found.append(Match(rule["name"], str(rule.get("reason") or f"policy {rule['name']}"), why,
                               run_wide="min_recipients" in rule))
    return found


def _why(rule: dict[str, Any], facts: Facts, run_recipients: Callable[[], list[str]]) -> str | None:
    """Why the rule matches the call, or None when one of its conditions does not hold."""
    reasons = []
    if "actions" in rule:
        if not any(fnmatch.fnmatchcase(facts.action, pattern) for pattern in rule["actions"]):
            return None
        reasons.append(f"{facts.action} is one of {', '.join(rule['actions'])}")
    if "side_effects" in rule and facts.side_effect not in rule["side_effects"]:
        return None
    if "deletion" in rule:
        if facts.deletion != rule["deletion"]:
            return None
        reasons.append(f"{facts.action} deletes data" if facts.deletion else "")
    if "outside" in rule:
        if facts.outside != rule["outside"] or _excepted(rule, facts):
            return None
        reasons.append(f"it writes to {facts.target or 'an outside system'}, which is not trusted")
    if "min_recipients" in rule:
        if not facts.recipients:
            return None
        everyone = run_recipients()
        if len(everyone) < rule["min_recipients"]:
            return None
        reasons.append(f"the run writes to {len(everyone)} recipients (the limit is {rule['min_recipients'] - 1})")
    if "side_effects" in rule and not reasons:
        reasons.append(f"{facts.action} is a {facts.side_effect}")
    return "; ".join(r for r in reasons if r) or rule["name"]


def _excepted(rule: dict[str, Any], facts: Facts) -> bool:
    if facts.host and facts.host in [h.lower() for h in rule.get("except_hosts", [])]:
        return True
    trusted = rule.get("except_connections", [])
    return bool(facts.connection) and ("*" in trusted or facts.connection in trusted)


def irreversible_steps(plan: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The plan's steps that cannot be undone once they act, with why (a warning shown before a run)."""
    steps = (plan or {}).get("steps") or []
    found = []
    for number, step in enumerate(steps, start=1):
        action = str(step.get("action") or "")
        why = cannot_be_undone(facts_of(action, step.get("params") or {}))
        if why:
            found.append({"step": number, "id": step.get("id") or f"step{number}", "action": action,
                          "description": step.get("description") or "", "why": why,
                          "requiresApproval": bool(step.get("requiresApproval"))})
    return found
