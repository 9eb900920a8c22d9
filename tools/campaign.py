"""campaign: send one personalized email per selected recipient, each at most once per occasion.

Every message goes through email.deliver (the same rendering and sending as email.send)
with its own Message-ID and a List-Unsubscribe link. Before each send the recipient's
ledger row is claimed (context.store("contacts")); a recipient whose row is already sent
or sending is never mailed again, so a rerun or a re-run step after a crash sends no duplicate.
"""
from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import EmailStr, Field

from .base import SideEffect, Tool, ToolContext, ToolInput
from .contacts import ContactStore
from .email import SendInput, check_senders, deliver
from .errors import ToolError, ToolInputError, TransientToolError

tool = Tool("campaign", "Send a personalized email campaign to a selected audience.", uses_credentials=True)
MAX_RECIPIENTS = 5000


class CampaignRecipient(ToolInput):
    email: EmailStr
    contact_id: str | None = Field(default=None, alias="contactId")
    fields: dict[str, str | int | float] = Field(default_factory=dict, description="personalization values")


class CampaignInput(ToolInput):
    recipients: list[CampaignRecipient] = Field(max_length=MAX_RECIPIENTS, description="contacts.select's recipients")
    occasion: str = Field(min_length=1, max_length=100, description="the ledger key: each recipient once per occasion")
    subject: str = Field(max_length=998, description="may hold {{ field }} placeholders")
    template: str = Field(max_length=1_000_000, description="the body with {{ field }} placeholders")
    skipped: list[dict[str, Any]] = Field(default_factory=list, description="contacts.select's skipped, reported on")
    from_email: EmailStr | None = Field(default=None, alias="from")
    provider: Literal["smtp", "gmail"] | None = None


@tool.action("send", side_effect=SideEffect.WRITE, credits=10)
def send(params: CampaignInput, context: ToolContext) -> dict[str, Any]:
    """Email each recipient the template filled with their fields, once per occasion (a ledger row
    claimed before each send); reports who was sent, skipped (with the reason) and failed (with the error)."""
    check_senders(context, params.provider, params.from_email)  # before anyone is claimed in the ledger
    store: ContactStore = context.store("contacts")
    report: dict[str, Any] = {"occasion": params.occasion, "sent": [], "skipped": list(params.skipped), "failed": []}
    opted_out = {e for e, c in store.find([str(r.email) for r in params.recipients]).items() if c["unsubscribed"]}
    transient = 0
    for recipient in params.recipients:
        email = str(recipient.email).lower()
        if email in opted_out:  # unsubscribed since the audience was selected
            report["skipped"].append({"email": email, "reason": "unsubscribed"})
            continue
        claim = store.claim(email=email, occasion=params.occasion, contact_id=recipient.contact_id)
        if claim != "claimed":
            report["skipped"].append({"email": email, "reason": _not_claimed(claim, params.occasion)})
            continue
        error, transient_error = _send_one(params, recipient, email, store, context)
        if error:
            report["failed"].append({"email": email, "error": error})
            transient += transient_error
        else:
            report["sent"].append(email)
    if transient and not report["sent"] and transient == len(report["failed"]):
        raise TransientToolError(f"no email could be sent: {report['failed'][0]['error']}")  # nothing left: retry
    report["counts"] = {name: len(report[name]) for name in ("sent", "skipped", "failed")}
    return report


def _not_claimed(status: str, occasion: str) -> str:
    if status == "sent":
        return f"already sent for {occasion}"
    return f"a send for {occasion} began earlier and its outcome is unknown: not sent again"


def _send_one(params: CampaignInput, recipient: CampaignRecipient, email: str, store: ContactStore,
              context: ToolContext) -> tuple[str | None, bool]:
    """(error, transient) of one claimed send; the ledger row is settled either way."""
    digest = hashlib.sha256(f"{params.occasion}:{email}".encode()).hexdigest()[:16]
    link = store.unsubscribe_url(email)
    message = SendInput.model_validate({
        "to": [email], "subject": params.subject, "template": params.template,
        "personalization": {**recipient.fields, "unsubscribe_url": link},
        "from": params.from_email, "provider": params.provider,
    })
    try:
        sent = deliver(message, context, key=f"campaign.{context.task_id}.{digest}",
                       headers={"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
                       footer=f"\n--\nTo stop receiving these emails: {link}\n")
    except (ToolInputError, ToolError) as exc:
        store.settle(email=email, occasion=params.occasion, error=str(exc))
        return str(exc), isinstance(exc, TransientToolError)
    store.settle(email=email, occasion=params.occasion, message_id=str(sent.get("messageId", "")))
    return None, False
