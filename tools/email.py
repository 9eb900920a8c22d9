"""email: send a message through Django's configured email backend (SMTP, file, console).

Irreversible: the executor gives each send the step's idempotency key as Message-ID
and never repeats a step whose send may have happened.
"""
from __future__ import annotations

from typing import Any

from django.core.mail import EmailMessage
from pydantic import EmailStr, Field, field_validator

from .base import SideEffect, Tool, ToolContext, ToolInput
from .errors import ToolError, TransientToolError

tool = Tool("email", "Send email.")
MAX_RECIPIENTS = 100


class SendInput(ToolInput):
    to: list[EmailStr] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    subject: str = Field(max_length=998)
    body: str = Field(max_length=1_000_000)
    cc: list[EmailStr] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    from_email: EmailStr | None = Field(default=None, alias="from")

    @field_validator("to", "cc", mode="before")
    @classmethod
    def one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("body", mode="before")
    @classmethod
    def text_body(cls, value: Any) -> Any:
        if isinstance(value, dict) and "content" in value:  # an ai.chat result
            return value["content"]
        return value


@tool.action("send", side_effect=SideEffect.IRREVERSIBLE, credits=10)
def send(params: SendInput, context: ToolContext) -> dict[str, Any]:
    """Send one email to `to` (a list or one address) with `subject` and a text `body`."""
    message_id = f"<{context.idempotency_key or 'adhoc'}@xantuus>".replace(":", ".")
    message = EmailMessage(
        subject=params.subject, body=params.body, from_email=params.from_email,
        to=list(params.to), cc=list(params.cc), headers={"Message-ID": message_id},
    )
    try:
        sent = message.send(fail_silently=False)
    except (ConnectionError, TimeoutError) as exc:
        raise TransientToolError(f"email server unreachable: {exc}") from exc
    except Exception as exc:  # smtplib errors: refused recipients, auth ...
        raise ToolError(f"email not sent: {exc}") from exc
    return {"sent": sent, "messageId": message_id, "to": list(params.to)}
