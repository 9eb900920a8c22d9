"""Webhook deliveries, by the Standard Webhooks spec: signed, durable, retried with backoff.

A delivery row is written in the transaction of what happened (one per event per endpoint),
and is sent after commit by a Celery task on the control queue, or by the beat (celery-beat,
or the embedded runner's) for what is due. An attempt is claimed by a conditional UPDATE
of its counter, so two deliverers never send the same attempt. Every connection goes through
the egress policy (tools.pinning); a refused address fails the delivery at once, with why.
The signing secret is decrypted only to sign, and never written to a row, a log or a body.
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from celery import current_app
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tools.egress import EgressPolicy
from tools.errors import EgressDenied, TransientToolError
from tools.pinning import pinned_session

from . import credentials
from .control_data import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .redact import redact_output

log = logging.getLogger(__name__)
PENDING, DELIVERED, FAILED = (WebhookDelivery.Status.PENDING, WebhookDelivery.Status.DELIVERED,
                              WebhookDelivery.Status.FAILED)
DELIVER_TASK = "agents.tasks.deliver_webhook"  # the Celery task of one attempt, sent by name
# per beat tick: the embedded runner's thread must get back to the agents soon
TICK_BATCH = 20
TICK_BUDGET_S = 2.0


def enqueue(*, user_id: int, event: str, key: str, task_id: str | None, data: dict[str, Any]) -> list[str]:
    """A delivery for each of the user's enabled endpoints subscribed to `event`; sent after commit."""
    endpoints = [e for e in WebhookEndpoint.objects.filter(user_id=user_id, enabled=True) if event in e.events]
    if not endpoints:
        return []
    now = timezone.now()
    payload = {"type": f"task.{event}", "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data}
    rows = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint=e, event=event, event_key=key[:160], task_id=task_id, payload=payload,
                         next_attempt_at=now) for e in endpoints],
        ignore_conflicts=True)  # the same event again (a redelivered step) adds nothing
    # ids are made here, so an ignored row's id is simply not found
    ids = list(WebhookDelivery.objects.filter(id__in=[r.id for r in rows]).values_list("id", flat=True))
    transaction.on_commit(lambda: _wake(ids))
    return ids


def _wake(ids: list[str], countdown: float = 0) -> None:
    """Full stack: a Celery message per delivery. Embedded: the runner's beat finds them due."""
    if settings.EMBEDDED:
        return
    for delivery_id in ids:
        try:  # sent by name: the store never imports the Celery tasks (agents/tasks.py) that call it
            current_app.send_task(DELIVER_TASK, args=[delivery_id], queue="agent.control", countdown=countdown or None)
        except Exception:  # the broker is down: the row is due, the beat's tick sends it
            log.warning("wake-up of webhook delivery %s not sent; the beat will send it", delivery_id)


def due(limit: int = TICK_BATCH) -> list[str]:
    rows = WebhookDelivery.objects.filter(status=PENDING, next_attempt_at__lte=timezone.now())
    return list(rows.order_by("next_attempt_at").values_list("id", flat=True)[:limit])


def tick() -> dict[str, int]:
    """The beat: send what is due, a batch and TICK_BUDGET_S at a time (the rest waits for the next
    tick); what each ended as, counted."""
    counts: dict[str, int] = {}
    stop_at = time.monotonic() + TICK_BUDGET_S
    for delivery_id in due():
        if time.monotonic() > stop_at:
            break
        outcome = deliver(delivery_id, wake=False)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@dataclass
class Answer:
    status_code: int | None = None
    error: str = ""
    final: bool = False  # no point retrying (the egress policy refused, the secret is unreadable)


def deliver(delivery_id: str, *, wake: bool = True) -> str:
    """One attempt, if the delivery is due and this caller claims it: delivered, retry, failed or skipped."""
    row = WebhookDelivery.objects.select_related("endpoint").filter(id=delivery_id).first()
    now = timezone.now()
    if row is None or row.status != PENDING or (row.next_attempt_at and row.next_attempt_at > now):
        return "skipped"
    number = row.attempts + 1
    claim_until = now + timedelta(seconds=settings.AGENT_WEBHOOK_TIMEOUT_S + 30)  # a dead deliverer's claim lapses
    if not WebhookDelivery.objects.filter(id=row.id, status=PENDING, attempts=row.attempts).update(
            attempts=number, next_attempt_at=claim_until):
        return "skipped"
    started, clock = timezone.now(), time.monotonic()
    answer, delay = _post(row), backoff(number)
    outcome = _settle(row, number, answer, started, round((time.monotonic() - clock) * 1000), delay)
    if outcome == "retry" and wake:
        _wake([row.id], countdown=delay)
    return outcome


def backoff(attempts: int) -> float:
    """Seconds before the next attempt: doubling from AGENT_WEBHOOK_RETRY_BASE_S, capped, with jitter."""
    delay = min(settings.AGENT_WEBHOOK_RETRY_MAX_S, settings.AGENT_WEBHOOK_RETRY_BASE_S * 2 ** (attempts - 1))
    return float(delay * random.uniform(0.8, 1.0))


def body_of(row: WebhookDelivery) -> str:
    """The exact bytes signed and sent: the stored payload, compact JSON."""
    return json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(secret: str, msg_id: str, body: str) -> dict[str, str]:
    """Standard Webhooks' three headers; the timestamp is the attempt's, so a retry verifies too."""
    now = datetime.now(tz=UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body)}


def _post(row: WebhookDelivery) -> Answer:
    try:
        secret = credentials.unseal(row.endpoint.secret_ciphertext)
    except InvalidToken:
        return Answer(error="the signing secret can no longer be decrypted (the encryption key changed); "
                            "register the webhook again", final=True)
    body = body_of(row)
    headers = {**signed_headers(secret, f"msg_{row.id}", body), "Content-Type": "application/json",
               "User-Agent": "Xantuus-Webhooks/1"}
    try:
        with pinned_session(EgressPolicy.from_settings()) as session:
            # Redirects are not followed: a receiver answers where it was registered.
            response = session.post(row.endpoint.url, data=body.encode(), headers=headers, stream=True,
                                    timeout=settings.AGENT_WEBHOOK_TIMEOUT_S, allow_redirects=False)
            response.close()  # only the status counts; the body is not read
    except EgressDenied as exc:
        return Answer(error=f"refused by the egress policy: {exc}", final=True)
    except (requests.RequestException, TransientToolError, OSError) as exc:
        return Answer(error=redact_output(f"{type(exc).__name__}: {exc}", [secret])[:2000])
    if 200 <= response.status_code < 300:
        return Answer(response.status_code)
    return Answer(response.status_code, f"the receiver answered {response.status_code}")


def _settle(row: WebhookDelivery, number: int, answer: Answer, started: datetime, duration_ms: int,
            delay: float) -> str:
    ok = answer.status_code is not None and 200 <= answer.status_code < 300
    giving_up = not ok and (answer.final or number >= settings.AGENT_WEBHOOK_MAX_ATTEMPTS)
    fields: dict[str, Any] = {"last_status_code": answer.status_code, "last_error": answer.error}
    if ok:
        fields.update(status=DELIVERED, delivered_at=timezone.now(), next_attempt_at=None)
    elif giving_up:
        fields.update(status=FAILED, next_attempt_at=None,
                      last_error=answer.error if answer.final else f"{answer.error} (gave up after {number} attempts)")
    else:
        fields.update(next_attempt_at=timezone.now() + timedelta(seconds=delay))
    with transaction.atomic():
        WebhookAttempt.objects.create(delivery_id=row.id, number=number, started_at=started, duration_ms=duration_ms,
                                      status_code=answer.status_code, error=answer.error)
        WebhookDelivery.objects.filter(id=row.id, attempts=number).update(**fields)
    return "delivered" if ok else "failed" if giving_up else "retry"
