"""noop.pass: a benchmark-only tool that does nothing, so a step's time is all overhead.

It is not in the product's registry: bench/app.py (the workers) and bench/run.py (this
process) append this module to tools.registry.TOOL_MODULES before the registry loads.
"""
from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from tools.base import SideEffect, Tool, ToolContext, ToolInput

tool = Tool("noop", "Does nothing (benchmark only).")


class PassInput(ToolInput):
    n: int = 0
    sleep_ms: int = Field(default=0, ge=0, le=10_000)  # to pace a task's events (the websocket run)


@tool.action("pass", side_effect=SideEffect.READ, credits=1)
def pass_(params: PassInput, context: ToolContext) -> dict[str, Any]:
    """Return with the number it was given (at once, or after sleep_ms)."""
    if params.sleep_ms:
        time.sleep(params.sleep_ms / 1000)
    return {"n": params.n}


def register() -> None:
    """Add this module to the tool registry (before its first use in this process)."""
    from tools import registry

    if __name__ not in registry.TOOL_MODULES:
        registry.TOOL_MODULES.append(__name__)
        registry.tools.cache_clear()
