"""Per-user notification preferences: which kinds are emailed, which go to the user's webhooks.

Every notification is stored in-app either way. Without a stored row a user has the defaults:
email for AGENT_NOTIFY_EMAIL_KINDS, webhooks for every kind (each endpoint still picks its events).
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from . import audit
from .control_data import WEBHOOK_EVENTS, NotificationPreference

EMAIL_KINDS = tuple(kind for kind in WEBHOOK_EVENTS if kind != "step")  # a step is never emailed


class InvalidPreferences(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Preferences:
    email_kinds: tuple[str, ...]
    webhook_kinds: tuple[str, ...]
    stored: bool  # False: the defaults


def defaults() -> Preferences:
    email = tuple(kind for kind in EMAIL_KINDS if kind in settings.AGENT_NOTIFY_EMAIL_KINDS)
    return Preferences(email, WEBHOOK_EVENTS, stored=False)


def for_user(user_id: int | None) -> Preferences:
    row = NotificationPreference.objects.filter(user_id=user_id).first() if user_id else None
    if row is None:
        return defaults()
    return Preferences(tuple(row.email_kinds), tuple(row.webhook_kinds), stored=True)


def _checked(field: str, kinds: list[str], allowed: tuple[str, ...]) -> list[str]:
    unknown = sorted(set(kinds) - set(allowed))
    if unknown:
        raise InvalidPreferences(field, f"unknown kind(s) {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return [kind for kind in allowed if kind in kinds]


def preferences_update(*, user_id: int, email_kinds: list[str] | None = None,
                       webhook_kinds: list[str] | None = None) -> Preferences:
    """Change either list (the other keeps its current value)."""
    current = for_user(user_id)
    email = _checked("emailKinds", email_kinds, EMAIL_KINDS) if email_kinds is not None else list(current.email_kinds)
    hooks = (_checked("webhookKinds", webhook_kinds, WEBHOOK_EVENTS) if webhook_kinds is not None
             else list(current.webhook_kinds))
    with transaction.atomic():
        NotificationPreference.objects.update_or_create(
            user_id=user_id, defaults={"email_kinds": email, "webhook_kinds": hooks})
        audit.record("notifications.changed", owner_id=user_id, target_type="preferences", target_id=user_id,
                     details={"emailKinds": email, "webhookKinds": hooks})
    return for_user(user_id)
