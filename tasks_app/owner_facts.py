"""Facts about a task's owner that the engine reads with the task, in one SELECT
(agents/step_reads.py), so a step asks the database again only when a fact says there is
something to read: stored secrets to mask, policy overrides, a step webhook, a failing circuit.

Each module that owns a fact gives its annotation of the task row (an Exists or a Subquery
over OuterRef("user_id")); known() reads one back. A fact that was not read (a task loaded
another way) is None, and the module then reads what it needs as it always did.
"""
from __future__ import annotations

from typing import Any


def known(task: Any, name: str) -> Any | None:
    """The annotation `name` as the step loaded it with the task, or None if it was not read."""
    return getattr(task, name, None)
