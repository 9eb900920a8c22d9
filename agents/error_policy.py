"""What the engine does when something goes wrong: one pure decision over the facts of the moment.

The executor, planning, replanning and the credit check gather the facts (agents/error_facts.py
for a step) and act on the verdict; none of them decides on its own. The rules read top to
bottom, the first that matches wins. docs/guarantees.md ("Error policy") shows the same table,
and tests/agents/test_error_policy.py checks every row of it against decide(), so the two
cannot drift. No Django and no database here: the function is tested with plain values.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorKind(str, enum.Enum):
    """How an error is classed (agents/errors.py classify decides it once, from the exception)."""

    TRANSIENT = "transient"  # network, timeout, 429/5xx: retry with backoff
    TOOL = "tool"  # the call failed in a way the agent can reason about
    PLANNING = "planning"  # the plan or a reference is wrong: replan or fail clearly
    FATAL = "fatal"  # fail the task, record the error, notify


class Verdict(str, enum.Enum):
    CONTINUE = "continue"  # nothing failed: record the step and go on
    RETRY = "retry"  # run the same call again after a backoff
    OBSERVE = "observe"  # record the failure; the model sees it as the step's observation
    ADAPT = "adapt"  # record the failure; the rest of a plan-driven run becomes ReAct
    REPLAN = "replan"  # record the step; the model rewrites the rest of the plan first
    WAIT = "wait"  # the call's circuit is open: look again when it cools down
    PAUSE = "pause"  # over the credit budget or balance: paused until a person resumes
    FAIL = "fail"  # the task fails with the error


@dataclass(frozen=True)
class Facts:
    """Everything the decision depends on; the defaults describe a plan-driven step that succeeded."""

    kind: ErrorKind | None = None  # the error's class; None: nothing failed
    retries: int = 0  # transient failures of this call before this one
    max_retries: int = 0  # AGENT_MAX_RETRIES
    reactive: bool = False  # the model picks each step (free-form or adapted), not a plan
    model_step: bool = False  # the failed call was the model itself (llm.reason, planning, replanning)
    rejected_input: bool = False  # the tool refused its input (ToolInputError): the plan's fault
    plan_by_model: bool = False  # the plan was written by the model, which may rewrite it
    contradicted: bool = False  # a model's step found nothing and later steps rely on it
    replans: int = 0  # replans and refinements this run has had
    max_replans: int = 0  # AGENT_MAX_REPLANS
    can_replan: bool = False  # a model is configured and agentConfig.replan is not false
    can_adapt: bool = False  # a model is configured and agentConfig.adapt is not false
    out_of_time: bool = False  # the task's time limit (AGENT_TIMEOUT_MS) ended the call
    circuit_open: bool = False  # the call's circuit is open and the step may still wait for it
    over_credit_limit: bool = False  # the next call would pass the run's budget or the owner's balance

    @property
    def replans_left(self) -> int:
        return self.max_replans - self.replans


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str  # why, in the words of the guarantees table
    error_note: str = ""  # added to the step's error: the retries it gave up after
    fail_note: str = ""  # added to the task's failure: the replans it had used up


def decide(facts: Facts) -> Decision:
    """The verdict for these facts (see the module docstring and docs/guarantees.md)."""
    if facts.over_credit_limit:
        return Decision(Verdict.PAUSE, "over the run's credit budget or the owner's balance")
    if facts.out_of_time:
        return Decision(Verdict.FAIL, "the task's time limit ended the call: not retried, no circuit failure")
    if facts.circuit_open:
        return Decision(Verdict.WAIT, "the target's circuit is open")
    if facts.kind is None:
        return _succeeded(facts)
    if facts.kind == ErrorKind.TRANSIENT and facts.retries < facts.max_retries:
        return Decision(Verdict.RETRY, "transient, retries left")
    note = f" (gave up after {facts.retries + 1} attempts)" if facts.kind == ErrorKind.TRANSIENT else ""
    decision = _after_retries(facts)
    return Decision(decision.verdict, decision.reason, note, decision.fail_note)


def _succeeded(facts: Facts) -> Decision:
    if facts.contradicted and not facts.reactive and facts.replans_left > 0 and facts.can_replan:
        return Decision(Verdict.REPLAN, "the model's plan found nothing that later steps rely on: refine it")
    return Decision(Verdict.CONTINUE, "nothing failed")


def _after_retries(facts: Facts) -> Decision:
    """A failure that is not retried (any more): observed, adapted to, replanned or the end."""
    if facts.kind == ErrorKind.FATAL:
        return Decision(Verdict.FAIL, "a fatal error")
    if facts.model_step:
        return Decision(Verdict.FAIL, "the model did not answer: nothing to observe")
    if facts.reactive:
        if facts.kind == ErrorKind.PLANNING:
            return Decision(Verdict.FAIL, "a wrong step in a model-driven run")
        return Decision(Verdict.OBSERVE, "the model sees the error and takes another route")
    replannable = (facts.kind == ErrorKind.PLANNING or facts.rejected_input
                   or (facts.kind == ErrorKind.TOOL and facts.plan_by_model))
    if replannable and facts.replans_left > 0 and facts.can_replan:
        return Decision(Verdict.REPLAN, "the plan is at fault and the model can rewrite it")
    if facts.kind == ErrorKind.TOOL and facts.can_adapt:
        return Decision(Verdict.ADAPT, "a tool error the model can work around")
    if replannable and facts.replans_left <= 0:
        note = f" (replanned {facts.replans} times already, the most AGENT_MAX_REPLANS allows)"
        return Decision(Verdict.FAIL, "no replans left", fail_note=note)
    if facts.kind == ErrorKind.TRANSIENT:
        return Decision(Verdict.FAIL, "transient, retries used up")
    return Decision(Verdict.FAIL, "no replan or adaptation is possible")
