"""outbound_ids: the ids we put in headers other servers see (Message-ID, Idempotency-Key).

They must be stable across retries of one step (so a receiver can drop a duplicate) and
must never reveal a task id or run number: an HMAC of the step's idempotency key with
the server's secret key, never the key itself.
"""
from __future__ import annotations

import hashlib
import hmac
import uuid

from .config import setting


def opaque_id(key: str, purpose: str) -> str:
    """32 hex digits, the same for the same key and purpose; other purposes give other ids."""
    secret = setting("SECRET_KEY", "")  # Django's; outside Django the id is still one-way
    return hmac.new(secret.encode(), f"{purpose}\n{key}".encode(), hashlib.sha256).hexdigest()[:32]


def message_id(key: str) -> str:
    """The Message-ID of the email sent for `key` (a random one when there is no key)."""
    return f"<{opaque_id(key, 'message-id') if key else uuid.uuid4().hex}@xantuus>"


def idempotency_header(key: str) -> str:
    """The Idempotency-Key header value sent with a request made for `key`."""
    return opaque_id(key, "idempotency-key")
