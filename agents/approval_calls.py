"""The call an approval is bound to: its hash, its input as shown, and the sealed copy that runs.

The hash covers the full input (secrets included), so an approval of one input never lets
another through; what people and the database see is the redacted input; what runs once
approved (a model's decision, a person's edit) is kept sealed, never in the clear.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from tasks_app.redact import redact
from tools.sealing import seal, unseal


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def input_hash(action: str, params: dict[str, Any]) -> str:
    """sha256 of the call's canonical JSON: the action and its full input."""
    return hashlib.sha256(canonical({"action": action, "input": params}).encode()).hexdigest()


def shown(params: Any) -> Any:
    """The input as a person (and every stored row) sees it: secrets masked by key, URL and value."""
    return redact(params)


def sealed(value: dict[str, Any]) -> str:
    return canonical(seal(canonical(value)))


def unsealed(text: str) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(unseal(json.loads(text)))
    return value if isinstance(value, dict) else {}
