"""The error policy as a table: each row's facts and the verdict decide() gives them. No database.

The same table is in docs/guarantees.md ("Error policy"); the last tests read it from there, so
the doc, this table and the function agree row for row.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import replace
from pathlib import Path

import pytest

from agents.error_policy import Decision, ErrorKind, Facts, Verdict, decide

T, TOOL, P, F = ErrorKind.TRANSIENT, ErrorKind.TOOL, ErrorKind.PLANNING, ErrorKind.FATAL
OBSERVED = "the model sees the error and takes another route"
REWRITE = "the plan is at fault and the model can rewrite it"
WORKAROUND = "a tool error the model can work around"
NO_ANSWER = "the model did not answer: nothing to observe"


def refine(replans: int) -> Facts:
    """A step of the model's plan found nothing, and a later step needs it."""
    return Facts(plan_by_model=True, contradicted=True, replans=replans, max_replans=2, can_replan=True)


# (facts, verdict, why): the rows of docs/guarantees.md, in its order
TABLE: list[tuple[Facts, Verdict, str]] = [
    (Facts(over_credit_limit=True), Verdict.PAUSE, "over the run's credit budget or the owner's balance"),
    (Facts(kind=T, max_retries=3, out_of_time=True), Verdict.FAIL,
     "the task's time limit ended the call: not retried, no circuit failure"),
    (Facts(circuit_open=True), Verdict.WAIT, "the target's circuit is open"),
    (Facts(), Verdict.CONTINUE, "nothing failed"),
    (refine(0), Verdict.REPLAN, "the model's plan found nothing that later steps rely on: refine it"),
    (refine(2), Verdict.CONTINUE, "nothing failed"),
    (Facts(kind=T, max_retries=3), Verdict.RETRY, "transient, retries left"),
    (Facts(kind=T, retries=2, max_retries=3, reactive=True, model_step=True), Verdict.RETRY, "transient, retries left"),
    (Facts(kind=T, retries=3, max_retries=3, reactive=True, model_step=True), Verdict.FAIL, NO_ANSWER),
    (Facts(kind=T, retries=3, max_retries=3, model_step=True), Verdict.FAIL, NO_ANSWER),
    (Facts(kind=T, retries=3, max_retries=3, reactive=True), Verdict.OBSERVE, OBSERVED),
    (Facts(kind=TOOL, reactive=True), Verdict.OBSERVE, OBSERVED),
    (Facts(kind=P, reactive=True), Verdict.FAIL, "a wrong step in a model-driven run"),
    (Facts(kind=F, reactive=True), Verdict.FAIL, "a fatal error"),
    (Facts(kind=F, can_adapt=True, can_replan=True, max_replans=2), Verdict.FAIL, "a fatal error"),
    (Facts(kind=T, retries=3, max_retries=3, can_adapt=True, can_replan=True, max_replans=2), Verdict.FAIL,
     "transient, retries used up"),
    (Facts(kind=P, max_replans=2, can_replan=True), Verdict.REPLAN, REWRITE),
    (Facts(kind=P, replans=2, max_replans=2, can_replan=True), Verdict.FAIL, "no replans left"),
    (Facts(kind=P, max_replans=2), Verdict.FAIL, "no replan or adaptation is possible"),
    (Facts(kind=TOOL, rejected_input=True, max_replans=2, can_replan=True), Verdict.REPLAN, REWRITE),
    (Facts(kind=TOOL, plan_by_model=True, max_replans=2, can_replan=True), Verdict.REPLAN, REWRITE),
    (Facts(kind=TOOL, plan_by_model=True, replans=2, max_replans=2, can_replan=True, can_adapt=True), Verdict.ADAPT,
     WORKAROUND),
    (Facts(kind=TOOL, plan_by_model=True, replans=2, max_replans=2), Verdict.FAIL, "no replans left"),
    (Facts(kind=TOOL, max_replans=2, can_replan=True, can_adapt=True), Verdict.ADAPT, WORKAROUND),
    (Facts(kind=TOOL, max_replans=2, can_replan=True), Verdict.FAIL, "no replan or adaptation is possible"),
]


@pytest.mark.parametrize(("facts", "verdict", "why"), TABLE)
def test_each_row_gets_its_verdict_and_reason(facts: Facts, verdict: Verdict, why: str) -> None:
    decision = decide(facts)
    assert (decision.verdict, decision.reason) == (verdict, why)


@pytest.mark.parametrize(("facts", "error_note", "fail_note"), [
    (Facts(kind=T, retries=3, max_retries=3), " (gave up after 4 attempts)", ""),
    (Facts(kind=T, retries=1, reactive=True, max_retries=1), " (gave up after 2 attempts)", ""),
    (Facts(kind=T, retries=2, max_retries=3), "", ""),  # retried: nothing to add yet
    (Facts(kind=P, replans=2, max_replans=2, can_replan=True),
     "", " (replanned 2 times already, the most AGENT_MAX_REPLANS allows)"),
    (Facts(kind=TOOL, plan_by_model=True, replans=3, max_replans=3),
     "", " (replanned 3 times already, the most AGENT_MAX_REPLANS allows)"),
    (Facts(kind=P, max_replans=2), "", ""),  # no model: it was never going to replan, so no count is mentioned
    (Facts(kind=T, retries=3, max_retries=3, out_of_time=True), "", ""),  # the time limit is the error, not the retries
])
def test_what_a_failure_adds_to_the_error(facts: Facts, error_note: str, fail_note: str) -> None:
    decision = decide(facts)
    assert (decision.error_note, decision.fail_note) == (error_note, fail_note)


# The words of the doc's "When" column, each a fact (a number pair: "retries R of M", "replans R of M").
KINDS = {"no error": None, "transient": T, "tool": TOOL, "planning": P, "fatal": F}
FLAGS = {"free-form": "reactive", "model step": "model_step", "input rejected": "rejected_input",
         "model's plan": "plan_by_model", "found nothing later steps need": "contradicted",
         "model can replan": "can_replan", "can adapt": "can_adapt", "out of time": "out_of_time",
         "circuit open": "circuit_open", "over credit limit": "over_credit_limit"}
COUNTS = {"retries": ("retries", "max_retries"), "replans": ("replans", "max_replans")}


def _every_facts() -> list[Facts]:
    """Every combination of the facts (20,480 of them)."""
    choices: dict[str, list[object]] = {
        "kind": [None, *ErrorKind], "retries": [0, 2], "replans": [0, 1],
        **{name: [False, True] for name in FLAGS.values()},
    }
    return [Facts(max_retries=2, max_replans=1, **dict(zip(choices, values, strict=True)))  # type: ignore[arg-type]
            for values in itertools.product(*choices.values())]


def test_no_facts_get_a_verdict_they_cannot_have() -> None:
    for facts in _every_facts():
        verdict = decide(facts).verdict
        where = f"{facts} -> {verdict}"
        assert (verdict is Verdict.PAUSE) == facts.over_credit_limit, where
        if verdict is Verdict.RETRY:  # only a transient error with retries left, and never past the time limit
            assert facts.kind is T and facts.retries < facts.max_retries and not facts.out_of_time, where
        if verdict is Verdict.OBSERVE:  # only the model can observe, and never its own failure
            assert facts.reactive and not facts.model_step and facts.kind in (T, TOOL), where
        if verdict in (Verdict.ADAPT, Verdict.REPLAN):  # a plan the model may take over or rewrite
            assert not facts.reactive and facts.kind is not F, where
            assert facts.kind is None or not facts.model_step, where  # the model's own failure is only retried
            assert facts.can_adapt if verdict is Verdict.ADAPT else facts.can_replan and facts.replans_left > 0, where
        if verdict is Verdict.CONTINUE:
            assert facts.kind is None, where
        if facts.kind is F and not facts.over_credit_limit and not facts.circuit_open:
            assert verdict is Verdict.FAIL, where


def test_the_decision_reads_nothing_but_its_facts() -> None:
    """Same facts, same decision: a rerun, another worker or a parallel branch decides alike."""
    facts = Facts(kind=TOOL, plan_by_model=True, replans=1, max_replans=2, can_replan=True)
    assert decide(facts) == decide(replace(facts)) == Decision(
        Verdict.REPLAN, "the plan is at fault and the model can rewrite it")


def _facts_of(when: str) -> Facts:
    values: dict[str, object] = {}
    for term in (part.strip() for part in when.split(",")):
        counted = re.fullmatch(r"(retries|replans) (\d+) of (\d+)", term)
        if counted:
            so_far, most = COUNTS[counted[1]]
            values[so_far], values[most] = int(counted[2]), int(counted[3])
        elif term in KINDS:
            values["kind"] = KINDS[term]
        else:
            assert term in FLAGS, f"docs/guarantees.md error policy: unknown fact {term!r} in {when!r}"
            values[FLAGS[term]] = True
    return Facts(**values)  # type: ignore[arg-type]


def _doc_rows() -> list[tuple[Facts, Verdict, str]]:
    text = (Path(__file__).resolve().parents[2] / "docs" / "guarantees.md").read_text()
    section = text.split("## Error policy\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines[0] == "| When | Then | Why |", lines[0]
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    return [(_facts_of(when), Verdict(then), why) for when, then, why in cells]


DOC = _doc_rows()


@pytest.mark.parametrize(("facts", "verdict", "why"), DOC)
def test_each_row_of_the_guarantees_doc_is_what_decide_does(facts: Facts, verdict: Verdict, why: str) -> None:
    decision = decide(facts)
    assert (decision.verdict, decision.reason) == (verdict, why)


def test_the_guarantees_doc_shows_the_same_table() -> None:
    assert DOC == TABLE


def test_every_verdict_and_reason_appears_in_the_table() -> None:
    """A new rule (a new reason) in error_policy.py without a row here and in the doc fails this."""
    reasons = {decide(facts).reason for facts in _every_facts()}
    assert {verdict for _, verdict, _ in TABLE} == set(Verdict)
    assert reasons <= {why for _, _, why in TABLE}, reasons - {why for _, _, why in TABLE}
