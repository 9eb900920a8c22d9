"""The tool protocol: a Tool is a family of typed actions.

Each action has a pydantic input model (its JSON schema is what the LLM sees), a
side-effect class, a credit cost from the seed's "Credit Costs", and a function
`(params, context) -> JSON-able output`. Tools never import the Django app: what they
need from the outside world arrives in the ToolContext.
"""
from __future__ import annotations

import copy
import enum
import inspect
import logging
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from .circuit_keys import circuit_key
from .egress import EgressPolicy
from .errors import DeadlineExceeded, ToolError, ToolInputError


class SideEffect(str, enum.Enum):
    READ = "read"  # safe to retry
    WRITE = "write"  # retried only with an idempotency key the target honours
    IRREVERSIBLE = "irreversible"  # never sent twice (email, payment)


class ToolInput(BaseModel):
    """Base of every action's input: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LLMClient(Protocol):
    """What the ai tool needs from a provider (agents.llm.base.Provider satisfies it)."""

    name: str

    def complete(self, *, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                 model: str | None = None, max_tokens: int = 1024) -> Any: ...


@dataclass
class ToolContext:
    """Everything a tool call may know about its surroundings."""

    task_id: str = ""
    user_id: int | None = None
    user_email: str = ""
    # Who the owner is beyond their id: what AGENT_DATABASES connections are opened to.
    username: str = ""
    groups: tuple[str, ...] = ()
    is_staff: bool = False
    idempotency_key: str = ""
    model: str | None = None
    egress: EgressPolicy = field(default_factory=EgressPolicy.from_settings)
    llm: LLMClient | None = None
    credentials: dict[str, Any] = field(default_factory=dict)
    # Per-task tool state (a browser session's cookies, storage and URL): the executor
    # saves it with the step, so it survives to the next step on any worker. JSON only.
    state: dict[str, Any] = field(default_factory=dict)
    # Where a tool may write files it returns (screenshots, images); served under MEDIA_URL.
    artifacts_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "xantuus-artifacts")
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("tools"))
    tokens_used: int = 0  # tools that call the LLM add their usage here
    output_tokens_used: int = 0  # of tokens_used, those the model wrote (priced apart from those it read)
    # The owner's own data (contacts, files, CRM, price history), by store name: the engine
    # passes objects implementing each tool's store Protocol, so tools never import the app.
    stores: Mapping[str, Any] = field(default_factory=dict)
    # How to undo this call's change, set through record_compensation by the action that made
    # it: the engine stores this (never a copy inside the output, which may hold fetched data).
    compensation: dict[str, Any] | None = None
    # Values the engine must mask wherever they appear in this step's trace (a password typed
    # into a form, a token read from a response): tools add them with mark_secret.
    secrets: set[str] = field(default_factory=set)
    # When the task's time limit runs out (time.monotonic() seconds), set by the engine; None: no
    # limit. Tools cap their own timeouts with remaining(), so no call outlives its task.
    deadline: float | None = None

    def remaining(self, limit_s: float) -> float:
        """`limit_s` (a tool's own timeout, in seconds) capped by the time the task has left.

        Raises DeadlineExceeded when none is left, so no call starts past the task's limit."""
        if self.deadline is None:
            return limit_s
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("the task's time limit ran out before this call")
        return min(limit_s, left)

    def remaining_ms(self, limit_ms: float) -> int:
        """remaining() in whole milliseconds for Playwright's timeouts: at least 1, never raising
        (a page already opened times out at once and is closed by its caller)."""
        left = limit_ms if self.deadline is None else (self.deadline - time.monotonic()) * 1000
        return max(1, int(min(limit_ms, left)))

    def mark_secret(self, value: str) -> None:
        if value:
            self.secrets.add(value)

    def record_compensation(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """Record the call (one of this action's declared inverses) that undoes its change.

        Returns it, so the tool may also show it in its output; rollback uses only the
        recorded one, and checks it against the action's `inverses` before running it."""
        self.compensation = {"action": action, "params": copy.deepcopy(params)}
        return copy.deepcopy(self.compensation)

    def store(self, name: str) -> Any:
        """The owner's store `name`, or a clear error where this call has none (run_tool)."""
        try:
            return self.stores[name]
        except KeyError:
            raise ToolError(f"this call has no {name} store: it needs a task (its owner's data)") from None


@dataclass(frozen=True)
class Action:
    tool: str
    name: str
    fn: Callable[[Any, ToolContext], Any]
    input_model: type[ToolInput]
    side_effect: SideEffect
    credits: int
    description: str
    # the actions (of this tool) whose call may undo this one's change; rollback refuses any other
    inverses: tuple[str, ...] = ()
    per_account: bool = False  # it acts in the owner's connected account (its circuit is theirs alone)

    @property
    def qualified_name(self) -> str:
        return f"{self.tool}.{self.name}"

    @property
    def llm_name(self) -> str:
        """Anthropic tool names allow [a-zA-Z0-9_-] only: http.get becomes http__get."""
        return f"{self.tool}__{self.name}"

    def validate(self, params: dict[str, Any]) -> ToolInput:
        try:
            return self.input_model.model_validate(params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(input)'}: {err['msg']}" for err in exc.errors()
            )
            raise ToolInputError(f"invalid input for {self.qualified_name}: {problems}") from None

    def json_schema(self) -> dict[str, Any]:
        schema = self.input_model.model_json_schema(by_alias=True)
        schema.pop("title", None)
        return schema

    def run(self, params: dict[str, Any], context: ToolContext) -> Any:
        return self.fn(self.validate(params), context)

    def circuit_key(self, params: Mapping[str, Any], owner_id: int | None) -> str:
        """The circuit breaker this call answers to ("http:api.example.com"); see tools.circuit_keys."""
        return circuit_key(self.tool, params, owner_id, per_account=self.per_account)


class Tool:
    """A family of actions; modules declare one and decorate their functions with it."""

    def __init__(self, name: str, description: str, *, uses_credentials: bool = False, uses_groups: bool = False):
        self.name = name
        self.description = description
        self.uses_credentials = uses_credentials  # the executor loads the user's stored credentials
        self.uses_groups = uses_groups  # the executor reads the user's groups (ToolContext.groups)
        self.actions: dict[str, Action] = {}

    def action(
        self, name: str, *, side_effect: SideEffect = SideEffect.READ, credits: int = 5,
        inverses: tuple[str, ...] = (),
    ) -> Callable[[Callable[[Any, ToolContext], Any]], Callable[[Any, ToolContext], Any]]:
        foreign = [inverse for inverse in inverses if not inverse.startswith(f"{self.name}.")]
        if foreign:  # a compensation acts with this tool's own actions, never another tool's
            raise ValueError(f"{self.name}.{name}: inverses must be {self.name} actions, not {', '.join(foreign)}")

        def register(fn: Callable[[Any, ToolContext], Any]) -> Callable[[Any, ToolContext], Any]:
            input_model = next(iter(inspect.signature(fn, eval_str=True).parameters.values())).annotation
            self.actions[name] = Action(
                tool=self.name,
                name=name,
                fn=fn,
                input_model=input_model,
                side_effect=side_effect,
                credits=credits,
                description=inspect.cleandoc(fn.__doc__ or name),
                inverses=tuple(inverses),
                per_account=self.uses_credentials,
            )
            return fn

        return register
