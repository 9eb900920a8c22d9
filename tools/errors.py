"""Errors a tool raises, by what the engine should do about them."""


class ToolError(Exception):
    """The call failed in a way the agent can reason about (404, selector not found).

    It goes back to the reasoning step as an observation; it is not retried blindly.
    """


class TransientToolError(ToolError):
    """Network trouble, a timeout, a 429 or 5xx: safe to retry with backoff for reads."""


class ToolInputError(ToolError):
    """The input failed the action's schema or a policy (egress, size): fix the call."""


class EgressDenied(ToolInputError):
    """The target address is private, loopback, link-local or metadata and not allow-listed."""


class DeadlineExceeded(ToolError):
    """The task's time limit (AGENT_TIMEOUT_MS) ran out before or during the call: the task fails with it."""
