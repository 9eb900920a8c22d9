"""What a step keeps secret: its plan's sealed values, the values under secret keys of its input, and
the owner's stored credentials.

A plan's values under secret-looking keys (an Authorization header, an API key in a body) are
sealed at rest when the task is stored, so the task row, its plan versions and every API
answer hold only ciphertext; the step unseals them just before it acts. Those values, and the
owner's stored tokens, are then masked by value wherever else they turn up (a response that
echoes them, an error, what the model wrote).
"""
from __future__ import annotations

from typing import Any

from tasks_app import credentials
from tasks_app.models import Task
from tasks_app.redact import SECRET_KEY, keyed_secrets, redact_output

from .expressions import references

SEALED = "$sealed"


def seal_plan(plan: dict[str, Any] | None) -> dict[str, Any] | None:
    """The plan with every literal value under a secret-looking key of its steps' params sealed."""
    if not plan or not isinstance(plan.get("steps"), list):
        return plan
    steps = [{**step, "params": _seal(step["params"])} if isinstance(step, dict) and isinstance(
        step.get("params"), dict) else step for step in plan["steps"]]
    return {**plan, "steps": steps}


def _seal(value: Any, secret: bool = False) -> Any:
    if isinstance(value, dict):
        if set(value) == {SEALED}:
            return value
        return {k: _seal(v, secret or bool(SECRET_KEY.search(str(k)))) for k, v in value.items()}
    if isinstance(value, list):
        return [_seal(v, secret) for v in value]
    if secret and isinstance(value, str) and value and not references(value):  # a reference is not the secret
        return {SEALED: credentials.seal(value)}
    return value


def unseal(value: Any) -> Any:
    """A step's resolved params with their sealed values back in the clear (only to act with them)."""
    if isinstance(value, dict):
        if set(value) == {SEALED} and isinstance(value[SEALED], str):
            return credentials.unseal(value[SEALED])
        return {k: unseal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unseal(v) for v in value]
    return value


def known_to_step(task: Task, params: dict[str, Any]) -> set[str]:
    """What to mask by value in the step's row, trace, events and webhooks."""
    return keyed_secrets(params) | credentials.secret_values_of_owner(task)


def masked_text(task: Task, text: str | None) -> str | None:
    """What the model wrote, with configured keys and the owner's stored secrets masked."""
    return None if text is None else redact_output(text, credentials.secret_values_of_owner(task))
