"""One step's record while it runs: what the executor, credits, the trace and replanning read.

A plain dataclass with no behaviour beyond its charge, so every engine module can name it
without importing the executor.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tools.base import SideEffect

from .errors import ErrorKind


@dataclass
class Attempt:
    """What one step did: the action, its input, and how it ended."""

    number: int
    action: str
    params: dict[str, Any]
    reasoning: str = ""
    tokens: int = 0
    output_tokens: int = 0  # of `tokens`, those the model wrote (priced apart from those it read)
    token_credits: int = 0  # what `tokens` cost (agents/credits.py), known once the step ran
    output: Any = None
    error: str | None = None
    kind: ErrorKind | None = None
    side_effect: SideEffect = SideEffect.READ
    credits: int = 0
    duration_ms: int = 0
    retries: int = 0  # transient failures of this step so far
    wait_until: datetime | None = None  # the tool's circuit is open: look again then
    final_text: str | None = None  # the model answered instead of calling a tool
    goal_met: bool | None = None  # its verdict, when it finished through the finish tool
    tool_state: dict[str, Any] = field(default_factory=dict)
    compensation: dict[str, Any] | None = None  # recorded by the tool through its context, never its output
    secrets: set[str] = field(default_factory=set)  # masked by value in the row and the trace
    rejected_input: bool = False  # the tool refused the input (ToolInputError): the plan's fault, replanned
    plan_version: int = 1  # the version of the run's plan the step came from (PlanVersion)
    deadline: float | None = None  # time.monotonic() when the task's AGENT_TIMEOUT_MS runs out
    out_of_time: bool = False  # the task's time limit, not the tool or its target, ended the call
    row_exists: bool | None = None  # is the step's row written (a plain INSERT or UPDATE)? None: not known

    @property
    def charged(self) -> int:
        """The step's credits: its action's flat cost when it succeeded, plus its tokens."""
        return (0 if self.error else self.credits) + self.token_credits
