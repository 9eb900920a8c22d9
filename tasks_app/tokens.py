"""API tokens: issued by POST /api/auth/token, expire AGENT_TOKEN_TTL_S after issue, revoked by DELETE.

The REST framework's token authentication and the websocket's both ask expired() before trusting one.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

EXPIRED_MESSAGE = "token expired: request a new one with POST /api/auth/token"


def expired(token: Token) -> bool:
    ttl = settings.AGENT_TOKEN_TTL_S
    return ttl > 0 and token.created <= timezone.now() - timedelta(seconds=ttl)


def token_issue(*, user: Any) -> Token:
    """The user's token, a new one when it has none or it has expired (one token per user)."""
    current = Token.objects.filter(user=user).first()
    if current is not None and not expired(current):
        return current
    if current is not None:
        current.delete()
    try:
        with transaction.atomic():
            return Token.objects.create(user=user)
    except IntegrityError:  # a concurrent login created it first: use that one
        return Token.objects.get(user=user)


def token_revoke(*, user: Any) -> bool:
    """Delete the user's token; True when there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted > 0
