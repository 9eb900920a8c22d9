"""Approvals: a person decides before a gated call, answers the agent, or settles an unknown outcome.

Policies are data (agents/policies.py), checked by the executor before it acts, never by the
tools. A gated call creates an Approval bound to the exact call (its action and the hash of
its full input), moves the task to `awaiting_approval` and stops; once approved the call
acts only if its hash matches (the edited input runs when a person edited it). A
model-driven step is not asked again after the decision: the approved decision runs, a
rejection becomes the observation the model reads. An irreversible call that began and was
never recorded is never sent again blindly: an `unknown_outcome` Approval asks whether it
happened. Nobody answering within AGENT_APPROVAL_TTL_S cancels the task.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tasks_app import leases, lifecycle
from tasks_app.models import Approval, StepStatus, Task, TaskExecution
from tasks_app.owner_facts import known

from . import policies
from .approval_calls import input_hash, sealed, shown, unsealed
from .decisions import ApprovalError as ApprovalError  # re-exported: services and tests decide through here
from .decisions import decide as decide
from .expressions import resolve
from .finish import cancel_task
from .notify import notify
from .planner import is_reactive
from .react import ASK_PERSON
from .toolcontext import reference_context

LISTED_RECIPIENTS = 50
CHECKPOINT = policies.Match("checkpoint", "the plan asks a person before this step", "the step has requiresApproval")


class Call(Protocol):
    """What the gate reads of a step about to act (agents.executor.Attempt)."""

    number: int
    action: str
    params: dict[str, Any]
    reasoning: str
    tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Verdict:
    """The gate's answer: act with `params`, record `skipped` instead, or wait (params None)."""

    params: dict[str, Any] | None
    skipped: dict[str, Any] | None = None

    @property
    def waiting(self) -> bool:
        return self.params is None and self.skipped is None


@dataclass(frozen=True)
class Decided:
    """A model-driven step a person already decided: run this call (or observe `error`/`output`)."""

    action: str
    params: dict[str, Any]
    reasoning: str
    tokens: int = 0
    output_tokens: int = 0
    error: str | None = None
    output: dict[str, Any] | None = None


def gate(task: Task, token: str, call: Call) -> Verdict:
    """May the step act now, and with what input? Else an Approval is pending and the task awaits it."""
    if call.action == ASK_PERSON:
        _ask_person(task, token, call)
        return Verdict(None)
    facts = policies.facts_of(call.action, call.params, task.tool_state)
    memo: list[list[str]] = []

    def everyone() -> list[str]:
        memo[:] = memo or [run_recipients(task, call.number, call.params)]
        return memo[0]

    overrides = known(task, policies.HAS_OVERRIDES) is not False  # read with the step's owner (step_reads)
    found = policies.matches(policies.rules_for(task.user_id, task.project_id, overrides=overrides), facts, everyone)
    if requires_approval(task, call.number):
        found.append(CHECKPOINT)
    if not found:
        return Verdict(call.params)
    approved = _approved(task, call, input_hash(call.action, call.params))
    if approved is not None:
        return approved
    if all(match.run_wide for match in found):
        covered = _covered_by_run(task, call, facts)
        if covered is not None:
            return covered
    _ask_policy(task, token, call, found, facts, everyone() if any(m.run_wide for m in found) else [])
    return Verdict(None)


def requires_approval(task: Task, number: int) -> bool:
    plan = task.plan or {}
    steps = plan.get("steps") or []
    return not is_reactive(plan) and 0 < number <= len(steps) and bool(steps[number - 1].get("requiresApproval"))


def _approved(task: Task, call: Call, digest: str) -> Verdict | None:
    """The approved input for exactly this call (its hash, or the hash of the edit that replaced it)."""
    rows = Approval.objects.filter(task_id=task.id, run=task.attempts, step=call.number, kind=Approval.Kind.POLICY,
                                   scope=Approval.Scope.STEP, status=Approval.Status.APPROVED, action=call.action)
    for row in rows.order_by("-decided_at"):
        if row.input_hash == digest and not row.edited_hash:
            return Verdict(call.params)
        if digest in (row.input_hash, row.edited_hash):
            return Verdict(unsealed(row.sealed).get("edited", call.params))
    return None


def _covered_by_run(task: Task, call: Call, facts: policies.Facts) -> Verdict | None:
    """A run-wide approval whose recipients include this call's: it acts (without those a person removed)."""
    rows = Approval.objects.filter(task_id=task.id, run=task.attempts, kind=Approval.Kind.POLICY,
                                   scope=Approval.Scope.RUN, status=Approval.Status.APPROVED)
    for row in rows.order_by("-decided_at"):
        if call.number not in row.covers or (row.step == call.number and row.input_hash != input_hash(
                call.action, call.params)):  # the call it was asked for is bound by its hash too
            continue
        kept = set((row.edited_input or {}).get("recipients", row.recipients))
        removed = set(row.recipients) - kept
        mine = set(facts.recipients)
        if mine <= kept:
            return Verdict(call.params)
        if mine <= kept | removed:
            if not mine & kept:
                return Verdict(None, skipped={"skipped": True, "because": f"approval {row.id} removed "
                                              f"{', '.join(sorted(mine))} from the recipients"})
            return Verdict(_without(call.params, removed))
    return None


def _without(params: dict[str, Any], removed: set[str]) -> dict[str, Any]:
    """The call's input with the removed recipients taken out of its address lists."""
    kept = dict(params)
    for key in policies.RECIPIENT_PARAMS:
        value = kept.get(key)
        if isinstance(value, list):
            kept[key] = [v for v in value if (v.get("email") if isinstance(v, dict) else v) not in removed]
    return kept


def run_recipients(task: Task, number: int, params: dict[str, Any]) -> list[str]:
    """Every address the run writes to: those its earlier steps wrote to, this call's, and (a plan)
    those its later steps will write to, as far as they are known before they run."""
    found: list[str] = []
    rows = TaskExecution.objects.filter(task_id=task.id, run=task.attempts, step__lt=number,
                                        status=StepStatus.COMPLETED).exclude(side_effect="read")
    for row in rows.order_by("step"):
        found += policies.facts_of(row.action, row.input or {}).recipients
    found += policies.addresses(params)
    for _, later in _later_message_steps(task, number):
        found += later
    return list(dict.fromkeys(found))


def _later_message_steps(task: Task, number: int) -> list[tuple[int, list[str]]]:
    """(step number, recipients) of the plan's later steps that write to recipients."""
    plan = task.plan or {}
    if is_reactive(plan):
        return []
    steps = [{"step": r.step, "action": r.action, "input": r.input, "output": r.output, "error": r.error,
              "reasoning": r.reasoning, "status": r.status}
             for r in TaskExecution.objects.filter(task_id=task.id, run=task.attempts, step__lt=number)]
    references = reference_context(task, plan, steps)
    later = []
    for later_number, step in enumerate(plan.get("steps", [])[number:], start=number + 1):
        try:
            params = resolve(step.get("params") or {}, references)
        except Exception:  # it refers to a result not there yet: only its literal addresses are known
            params = step.get("params") or {}
        recipients = [a for a in policies.facts_of(step["action"], params).recipients if "{" not in a]
        if recipients:
            later.append((later_number, recipients))
    return later


def _ask_policy(task: Task, token: str, call: Call, found: list[policies.Match], facts: policies.Facts,
                recipients: list[str]) -> None:
    covers = [n for n, _ in _later_message_steps(task, call.number)] if recipients else []
    scope = Approval.Scope.RUN if covers else Approval.Scope.STEP
    undo = policies.cannot_be_undone(facts)
    steps = ", ".join(map(str, [call.number, *covers]))
    question = (f"step {call.number} wants to call {call.action}: "
                f"{'; '.join(f'{m.reason} (policy {m.name}: {m.why})' for m in found)}."
                f"{_listed(recipients)}{f' Warning: {undo}.' if undo else ''}"
                f"{f' This approval covers the run: steps {steps}.' if covers else ''}"
                f" Approve to let it act{', edit its input' if scope == Approval.Scope.STEP else ''}, "
                f"or reject{' with a reason the agent reads' if is_reactive(task.plan) else ' to cancel the task'}.")
    fields: dict[str, Any] = {
        "action": call.action, "policy": ", ".join(m.name for m in found)[:200],
        "why": "\n".join(f"{m.name}: {m.why}" for m in found), "input": shown(call.params),
        "input_hash": input_hash(call.action, call.params), "scope": scope, "covers": [call.number, *covers],
        "recipients": recipients or list(facts.recipients), "irreversible": undo is not None,
    }
    if is_reactive(task.plan):  # the model's decision runs once approved: it is not asked again
        fields["decision"] = {"action": call.action, "params": shown(call.params), "reasoning": call.reasoning}
        fields["sealed"] = sealed({"params": call.params, "reasoning": call.reasoning, "tokens": call.tokens,
                                   "outputTokens": call.output_tokens})
    ask(task, token, call.number, Approval.Kind.POLICY, question, fields)


def _ask_person(task: Task, token: str, call: Call) -> None:
    text = str(call.params.get("question") or "").strip()[:4000] or "(the agent asked without a question)"
    choices = [str(c)[:200] for c in call.params.get("choices") or []][:20]
    ask(task, token, call.number, Approval.Kind.QUESTION, text, {
        "action": ASK_PERSON, "input": shown(call.params), "choices": choices,
        "decision": {"action": ASK_PERSON, "params": shown(call.params), "reasoning": call.reasoning},
        "sealed": sealed({"params": call.params, "reasoning": call.reasoning, "tokens": call.tokens,
                          "outputTokens": call.output_tokens}),
    })


def _listed(addresses: list[str]) -> str:
    if len(addresses) <= 1:
        return ""
    more = len(addresses) - LISTED_RECIPIENTS
    return (f" Recipients ({len(addresses)}): {', '.join(addresses[:LISTED_RECIPIENTS])}"
            f"{f' and {more} more' if more > 0 else ''}.")


def hold_unknown_outcome(task: Task, token: str, row: TaskExecution) -> None:
    question = (f"step {row.step} ({row.action}) was started by a worker that stopped before recording its "
                f"outcome (idempotency key {row.idempotency_key}); it may or may not have happened. Check, "
                f"then approve with done=true if it happened (the step is settled, not repeated), with "
                f"done=false if it did not (the step runs again), or reject to cancel the task.")
    facts = policies.facts_of(row.action, row.input or {})
    ask(task, token, row.step, Approval.Kind.UNKNOWN_OUTCOME, question,
        {"action": row.action, "input": row.input, "irreversible": policies.cannot_be_undone(facts) is not None})


def ask(task: Task, token: str, number: int, kind: str, question: str, fields: dict[str, Any]) -> None:
    """Open (or refresh) the step's pending question and let the task wait for it."""
    expires = timezone.now() + timedelta(seconds=settings.AGENT_APPROVAL_TTL_S)
    with transaction.atomic():
        Approval.objects.update_or_create(
            task_id=task.id, run=task.attempts, step=number, kind=kind, status=Approval.Status.PENDING,
            defaults={"question": question, "done": None, "decided_by": None, "decided_at": None,
                      "expires_at": expires, **fields},
        )
        leases.release(task.id, token)
        if lifecycle.apply("await_approval", task_id=task.id):  # the question is the Approval's, not an error
            notify(task, "approval_needed", question)


def decided(task: Task, number: int) -> Decided | None:
    """A model-driven step's call a person decided on (approved, rejected, answered), to run or observe."""
    row = (Approval.objects.filter(task_id=task.id, run=task.attempts, step=number,
                                   kind__in=[Approval.Kind.POLICY, Approval.Kind.QUESTION],
                                   status__in=[Approval.Status.APPROVED, Approval.Status.REJECTED])
           .exclude(sealed="").order_by("-decided_at").first())
    if row is None:
        return None
    call = unsealed(row.sealed)
    if "params" not in call:  # a plan step's edit, not a model's decision
        return None
    base = Decided(row.action, call.get("params") or {}, str(call.get("reasoning") or ""),
                   tokens=int(call.get("tokens") or 0), output_tokens=int(call.get("outputTokens") or 0))
    who = row.decided_by.get_username() if row.decided_by else "a person"
    if row.status == Approval.Status.REJECTED:
        why = f": {row.reason}" if row.reason else " (no reason given)"
        what = "declined to answer" if row.kind == Approval.Kind.QUESTION else f"rejected this {row.action} call"
        return replace(base, error=f"{who} {what}{why}. Take another route.")
    if row.kind == Approval.Kind.QUESTION:
        return replace(base, output={"question": row.question, "answer": row.answer, "answeredBy": who})
    return base


def expire_overdue() -> int:
    """Expire the pending approvals past their time and cancel their tasks with that reason."""
    expired = 0
    for row in Approval.objects.filter(status=Approval.Status.PENDING, expires_at__lte=timezone.now()):
        with transaction.atomic():
            if not Approval.objects.filter(id=row.id, status=Approval.Status.PENDING).update(
                    status=Approval.Status.EXPIRED, decided_at=timezone.now()):
                continue
            hours = settings.AGENT_APPROVAL_TTL_S / 3600
            error = (f"cancelled: the approval of step {row.step} ({row.action or row.kind}) expired after "
                     f"{hours:g} h without a decision (AGENT_APPROVAL_TTL_S)")
            if lifecycle.allowed(Task.objects.get(id=row.task_id).status, "cancel"):
                cancel_task(row.task_id, error=error)
            expired += 1
    return expired


def matching_policy(action: str, params: dict[str, Any], *, user_id: int | None = None) -> dict[str, Any] | None:
    """The first policy that applies to calling `action` with `params` on its own (rollback's check)."""
    facts = policies.facts_of(action, params)
    rules = policies.rules_for(user_id)
    found = policies.matches(rules, facts, lambda: list(facts.recipients))
    return next((rule for rule in rules for m in found if rule["name"] == m.name), None)
