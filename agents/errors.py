"""Error classes, decided once: transient (retry), tool (observe and adapt), planning, fatal.

What the engine then does about each is agents/error_policy.py (where ErrorKind lives, so the
policy imports nothing of Django)."""
from __future__ import annotations

import anthropic
from django.db import InterfaceError, OperationalError

from tools.errors import ToolError, TransientToolError

from .error_policy import ErrorKind
from .expressions import ExpressionError
from .llm.base import LLMUnavailable
from .plan import PlanError

# The database connection failed (PostgreSQL restarting): never the task's fault, never
# recorded as its failure; the Celery task is retried and the lease/sweeper pick it up.
DATABASE_DOWN = (OperationalError, InterfaceError)


# What Anthropic's own client retries (request timeout, conflict, rate limit) plus every 5xx
# (overloaded is 529): the engine's backoff takes over when the client's retries run out.
RETRIED_STATUSES = (408, 409, 429)


class EngineError(Exception):
    """A failure that ends the task with this message (limits, missing model, bad config)."""


def classify(exc: BaseException) -> ErrorKind:
    if isinstance(exc, TransientToolError):
        return ErrorKind.TRANSIENT
    if isinstance(exc, anthropic.APIConnectionError):  # timeouts included
        return ErrorKind.TRANSIENT
    if isinstance(exc, anthropic.APIStatusError) and (exc.status_code in RETRIED_STATUSES or exc.status_code >= 500):
        return ErrorKind.TRANSIENT
    if isinstance(exc, ToolError):
        return ErrorKind.TOOL
    if isinstance(exc, (PlanError, ExpressionError)):
        return ErrorKind.PLANNING
    if isinstance(exc, (LLMUnavailable, EngineError)):
        return ErrorKind.FATAL
    return ErrorKind.FATAL


def describe(exc: BaseException) -> str:
    """A one-line message for traces and users: never a traceback, never a secret."""
    text = str(exc).strip() or exc.__class__.__name__
    return text if isinstance(exc, (ToolError, PlanError, ExpressionError, EngineError, LLMUnavailable)) \
        else f"{exc.__class__.__name__}: {text}"
