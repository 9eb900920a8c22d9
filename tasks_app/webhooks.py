"""Webhook endpoints: register (the secret is returned once, then only stored encrypted), change, remove.

The URL is checked as the egress policy would (http or https, a host; a literal address the
policy refuses is refused here already); a name is checked again at every delivery, since
what it resolves to can change. Deliveries are tasks_app.webhook_delivery's.
"""
from __future__ import annotations

import base64
import ipaddress
import secrets
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from tools.egress import EgressPolicy
from tools.errors import EgressDenied

from . import audit, credentials
from .control_data import WEBHOOK_EVENTS, WebhookEndpoint
from .services import InvalidTask

SECRET_PREFIX = "whsec_"  # Standard Webhooks' prefix for a base64 symmetric secret
SECRET_BYTES = 32
MAX_ENDPOINTS_PER_USER = 20
CHANGEABLE = frozenset({"url", "events", "description", "enabled"})


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_of(endpoint: WebhookEndpoint) -> str:
    """The plaintext signing secret (for signing a delivery only); InvalidToken if the key changed."""
    return credentials.unseal(endpoint.secret_ciphertext)


def check_url(url: str) -> str:
    """InvalidTask('url') unless deliveries could go there under the egress policy."""
    policy = EgressPolicy.from_settings()
    try:
        host, port = policy.check_target(url)
        ipaddress.ip_address(host.strip("[]"))
    except EgressDenied as exc:
        raise InvalidTask("url", str(exc)) from None
    except ValueError:
        return url  # a name: resolved and checked at each delivery
    try:
        policy.resolve(host.strip("[]"), port)  # a literal address resolves to itself, without DNS
    except EgressDenied as exc:
        raise InvalidTask("url", str(exc)) from None
    return url


def check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
    if unknown:
        raise InvalidTask("events", f"unknown event(s) {', '.join(unknown)}; choose from {', '.join(WEBHOOK_EVENTS)}")
    if not events:
        raise InvalidTask("events", f"choose at least one of {', '.join(WEBHOOK_EVENTS)}")
    return [event for event in WEBHOOK_EVENTS if event in events]  # one order, no repeats


def webhook_register(*, user: User, url: str, events: list[str], description: str = "") -> tuple[WebhookEndpoint, str]:
    """Store a new endpoint; returns it with its signing secret, which is never shown again."""
    check_url(url)
    chosen = check_events(events)
    if WebhookEndpoint.objects.filter(user=user).count() >= MAX_ENDPOINTS_PER_USER:
        raise InvalidTask("url", f"at most {MAX_ENDPOINTS_PER_USER} webhooks per user; remove one first")
    secret = new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            user=user, url=url, events=chosen, wants_step="step" in chosen, description=description,
            secret_ciphertext=credentials.seal(secret))
        audit.record("webhook.added", owner_id=user.id, target_type="webhook", target_id=endpoint.id,
                     details={"url": url, "events": chosen})
    return endpoint, secret


def webhook_update(*, endpoint: WebhookEndpoint, changes: dict[str, Any]) -> WebhookEndpoint:
    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise InvalidTask(sorted(unknown)[0], f"cannot change {', '.join(sorted(unknown))}")
    if "url" in changes:
        check_url(changes["url"])
    if "events" in changes:
        changes = {**changes, "events": check_events(changes["events"])}
        changes["wants_step"] = "step" in changes["events"]
    with transaction.atomic():
        for name, value in changes.items():
            setattr(endpoint, name, value)
        endpoint.save(update_fields=[*changes, "updated_at"])
        audit.record("webhook.changed", owner_id=endpoint.user_id, target_type="webhook", target_id=endpoint.id,
                     details={k: v for k, v in changes.items() if k != "wants_step"})
    return endpoint


def webhook_remove(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its deliveries; nothing more is sent to it."""
    with transaction.atomic():
        audit.record("webhook.removed", owner_id=endpoint.user_id, target_type="webhook", target_id=endpoint.id,
                     details={"url": endpoint.url})
        endpoint.delete()
