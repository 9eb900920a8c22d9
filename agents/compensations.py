"""Which recorded compensations a rollback may run, and how a person names one to approve it.

A compensation comes only from TaskExecution.compensation, which the executor filled from
the tool's own channel (ToolContext.record_compensation). It runs only if it is one of the
inverses the producing action declares, its params pass that inverse's input schema, and
the inverse is not irreversible. This module must never take a compensation from a step's
output: that is data the tool fetched or returned, and an outside server may have written it.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from tools import registry
from tools.base import SideEffect
from tools.errors import ToolInputError


def refusal(producing: str, compensation: Any) -> str | None:
    """Why the `compensation` recorded by a `producing` step must not run; None when it may."""
    if not (isinstance(compensation, dict) and isinstance(compensation.get("action"), str)
            and isinstance(compensation.get("params"), dict)):
        return "the recorded compensation is not an {action, params} call"
    undo = compensation["action"]
    try:
        declared = registry.get_action(producing).inverses
    except ToolInputError as exc:
        return f"the step's action is unknown ({exc})"
    if undo not in declared:
        return (f"{undo} is not an inverse that {producing} declares "
                f"(it declares {', '.join(declared) if declared else 'none'})")
    try:
        inverse = registry.get_action(undo)
        if inverse.side_effect == SideEffect.IRREVERSIBLE:
            return f"{undo} is irreversible: a compensation never is"
        inverse.validate(compensation["params"])
    except ToolInputError as exc:
        return str(exc)
    return None


def compensation_id(run: int, step: int, compensation: Any) -> str:
    """A name for exactly this compensation: approving it approves these params, nothing else."""
    canonical = json.dumps(compensation, sort_keys=True, separators=(",", ":"), default=str)
    return f"{run}.{step}.{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


def shown(compensation: Any) -> tuple[str, dict[str, Any]]:
    """The (action, params) of a recorded compensation as a report shows it, whatever its shape."""
    if not isinstance(compensation, dict):
        return "(not a call)", {}
    action, params = compensation.get("action"), compensation.get("params")
    return (action if isinstance(action, str) else "(not a call)"), (params if isinstance(params, dict) else {})
