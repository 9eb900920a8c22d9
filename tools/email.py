"""email: send one message by SMTP (Django's email backend) or through the Gmail API.

Subject and body may be templates with `{{ field }}` placeholders filled from
`personalization` (plain names only: no attribute or index access, nothing evaluated).
Irreversible: the Message-ID is an HMAC of the step's idempotency key on both paths (no task
id shows), and the
executor never repeats a step whose send may have happened. It must never send a file
from outside the task's artifacts directory, nor put a Google token in its output, nor
send as anyone but the owner, their connected Gmail account or the operator (allowed_senders).
"""
from __future__ import annotations

import base64
import mimetypes
import re
from email.utils import parseaddr
from typing import Any, Literal, TypedDict

from django.core.mail import BadHeaderError, EmailMessage, get_connection
from pydantic import AliasChoices, EmailStr, Field, field_validator, model_validator

from . import outbound_ids
from .base import SideEffect, Tool, ToolContext, ToolInput
from .config import setting
from .errors import ToolError, ToolInputError, TransientToolError
from .files import decode_base64, read_artifact, safe_filename
from .google import GoogleSession

tool = Tool("email", "Send email.", uses_credentials=True)
MAX_RECIPIENTS = 100
MAX_ATTACHMENTS = 20
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # all attachments together; EMAIL_MAX_ATTACHMENT_BYTES
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
FIELD_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*")


class Attachment(ToolInput):
    filename: str | None = Field(default=None, max_length=255, description="Defaults to the path's file name")
    content_base64: str | None = Field(default=None, alias="contentBase64")
    mime_type: str | None = Field(default=None, alias="mimeType", pattern=r"^[\w.+-]+/[\w.+-]+$")
    path: str | None = Field(default=None, max_length=4096, description="A file in the task's artifacts directory")

    @model_validator(mode="after")
    def one_source(self) -> Attachment:
        if (self.content_base64 is None) == (self.path is None):
            raise ValueError("give either contentBase64 or path")
        if self.content_base64 is not None and not self.filename:
            raise ValueError("an attachment given as contentBase64 needs a filename")
        return self


class SendInput(ToolInput):
    to: list[EmailStr] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    subject: str = Field(max_length=998, description="May hold {{ field }} placeholders")
    body: str | None = Field(default=None, max_length=1_000_000)
    template: str | None = Field(
        default=None, max_length=1_000_000,
        description="The body as a template with {{ field }} placeholders, instead of body",
    )
    personalization: dict[str, str | int | float] = Field(
        default_factory=dict, validation_alias=AliasChoices("personalization", "context"),
        description="Values for the {{ field }} placeholders of subject and template/body",
    )
    cc: list[EmailStr] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    from_email: EmailStr | None = Field(
        default=None, alias="from",
        description="Your own address, the connected Gmail account (gmail) or the operator's default sender",
    )
    reply_to: list[EmailStr] = Field(default_factory=list, alias="replyTo", max_length=5,
                                     description="Where replies go; the same addresses as from")
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    provider: Literal["smtp", "gmail"] | None = Field(
        default=None, description="smtp or gmail; defaults to the user's email provider setting",
    )

    @field_validator("to", "cc", "reply_to", mode="before")
    @classmethod
    def one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("body", "template", mode="before")
    @classmethod
    def text_body(cls, value: Any) -> Any:
        if isinstance(value, dict) and "content" in value:  # an ai.chat result
            return value["content"]
        return value

    @model_validator(mode="after")
    def body_or_template(self) -> SendInput:
        if (self.body is None) == (self.template is None):
            raise ValueError("give either body or template")
        return self


def render(text: str, values: dict[str, Any], where: str) -> str:
    """Replace each {{ name }} with values[name]; nothing else in the text is interpreted."""

    def substitute(match: re.Match[str]) -> str:
        field = FIELD_NAME.fullmatch(match.group(1))
        if field is None:
            raise ToolInputError(
                f"{where}: placeholder {match.group(0)!r} is not a plain field name; use {{{{ name }}}}"
            )
        name = field.group(1)
        if name not in values:
            known = ", ".join(sorted(values)) or "no fields"
            raise ToolInputError(f"{where}: template field {name!r} has no value in personalization (it has {known})")
        return str(values[name])

    return PLACEHOLDER.sub(substitute, text)


def _attachments(params: SendInput, context: ToolContext) -> list[tuple[str, bytes, str]]:
    budget = int(setting("EMAIL_MAX_ATTACHMENT_BYTES", DEFAULT_MAX_ATTACHMENT_BYTES))
    loaded = []
    for item in params.attachments:
        if item.path is not None:
            path, content = read_artifact(context, item.path, budget)
            filename = safe_filename(item.filename or path.name)
        else:
            filename = safe_filename(item.filename or "attachment")
            content = decode_base64(item.content_base64 or "", budget, f"attachment {filename}")
        budget -= len(content)
        if budget < 0:
            raise ToolInputError("the attachments together are larger than the email size limit")
        mime_type = item.mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        loaded.append((filename, content, mime_type))
    return loaded


class _Extra(TypedDict):
    """What a campaign adds to a message: its own Message-ID key, headers, a body footer."""

    key: str | None
    headers: dict[str, str] | None
    footer: str


def _message(params: SendInput, context: ToolContext, from_email: str | None, *, key: str | None = None,
             headers: dict[str, str] | None = None, footer: str = "") -> EmailMessage:
    subject, body = params.subject, params.body if params.body is not None else params.template or ""
    if params.template is not None or params.personalization:
        subject = render(subject, params.personalization, "subject")
        body = render(body, params.personalization, "template" if params.template is not None else "body")
    message_id = outbound_ids.message_id(key or context.idempotency_key)  # stable per step, reveals no task id
    message = EmailMessage(
        subject=subject, body=body + footer, from_email=from_email,
        to=list(params.to), cc=list(params.cc), reply_to=list(params.reply_to),
        headers={**(headers or {}), "Message-ID": message_id},
    )
    for filename, content, mime_type in _attachments(params, context):
        message.attach(filename, content, mime_type)
    return message


@tool.action("send", side_effect=SideEffect.IRREVERSIBLE, credits=10)
def send(params: SendInput, context: ToolContext) -> dict[str, Any]:
    """Send one email to `to` (a list or one address) with `subject` and a text `body`
    (or a `template` with {{ field }} placeholders filled from `personalization`),
    optional `attachments`, by SMTP or the user's Gmail (`provider`)."""
    return deliver(params, context)


def allowed_senders(context: ToolContext, provider: str) -> list[str]:
    """Who a message may say it is from: the owner's address (the account's email, taken as verified),
    the connected Gmail account when Gmail sends it, and the operator's DEFAULT_FROM_EMAIL."""
    gmail = (context.credentials.get("google") or {}).get("email") if provider == "gmail" else None
    found = [context.user_email, str(gmail or ""), parseaddr(setting("DEFAULT_FROM_EMAIL", ""))[1]]
    return list(dict.fromkeys(address.lower() for address in found if address))


def check_senders(context: ToolContext, provider: str | None, from_email: str | None,
                  reply_to: list[str] | None = None) -> str:
    """The provider that will send; ToolInputError when `from` or a `replyTo` is anyone else's."""
    provider = provider or context.credentials.get("email_provider") or "smtp"
    allowed = allowed_senders(context, provider)
    for name, address in [("from", from_email), *(("replyTo", a) for a in reply_to or [])]:
        if address is not None and address.lower() not in allowed:
            raise ToolInputError(f"{name} {address!r} is not an address this task may send as; "
                                 f"use one of: {', '.join(allowed)} (your own address may also go in replyTo)")
    return provider


def deliver(params: SendInput, context: ToolContext, *, key: str | None = None,
            headers: dict[str, str] | None = None, footer: str = "") -> dict[str, Any]:
    """Render and send one message (email.send, and each message of a campaign); `key` makes its
    Message-ID (default: the step's idempotency key), `headers` and a body `footer` are added."""
    extra = _Extra(key=key, headers=headers, footer=footer)
    provider = check_senders(context, params.provider, params.from_email, list(params.reply_to))
    if provider == "gmail":
        return _send_gmail(params, context, extra)
    if provider != "smtp":
        raise ToolInputError(f"unknown email provider {provider!r}; use smtp or gmail")
    message = _message(params, context, params.from_email, **extra)
    message.connection = get_connection(timeout=context.remaining(setting("EMAIL_TIMEOUT", 30)))  # the task's deadline
    try:
        sent = message.send(fail_silently=False)
    except BadHeaderError as exc:
        raise ToolInputError(f"email not sent: {exc}") from None
    except (ConnectionError, TimeoutError) as exc:
        raise TransientToolError(f"email server unreachable: {exc}") from exc
    except Exception as exc:  # smtplib errors: refused recipients, auth ...
        raise ToolError(f"email not sent: {exc}") from exc
    return {"sent": sent, "provider": "smtp", "messageId": message.extra_headers["Message-ID"],
            "to": list(params.to), "attachments": [a[0] for a in message.attachments]}


def _send_gmail(params: SendInput, context: ToolContext, extra: _Extra) -> dict[str, Any]:
    with GoogleSession(context, "email via Gmail", "GMAIL_API_BASE_URL") as google:
        account = (context.credentials.get("google") or {}).get("email")
        message = _message(params, context, params.from_email or account, **extra)
        try:
            raw = base64.urlsafe_b64encode(message.message().as_bytes()).decode("ascii")
        except BadHeaderError as exc:
            raise ToolInputError(f"email not sent: {exc}") from None
        answer = google.request("POST", "/gmail/v1/users/me/messages/send", json={"raw": raw}).json() or {}
        return {
            "sent": 1, "provider": "gmail", "messageId": message.extra_headers["Message-ID"], "to": list(params.to),
            "attachments": [a[0] for a in message.attachments],
            "gmailId": answer.get("id"), "threadId": answer.get("threadId"),
        }
