"""Token authentication that refuses expired tokens with a clear 401 (tasks_app/tokens.py decides)."""
from __future__ import annotations

from typing import Any

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from tasks_app import tokens


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        user, token = super().authenticate_credentials(key)
        if tokens.expired(token):
            raise AuthenticationFailed(tokens.EXPIRED_MESSAGE)
        return user, token
