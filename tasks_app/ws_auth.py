"""Websocket authentication: `?token=<API token>` sets scope["user"]; the Origin check runs first.

TokenAuthMiddleware sits inside Channels' AuthMiddlewareStack, so a session cookie works too; an
explicit token (valid or not) takes precedence over the session. An expired token is no user.
SameOriginValidator refuses (HTTP 403) a handshake whose Origin is another site: a page elsewhere
must not ride a user's session cookie into their live feed. Never logs the token.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from rest_framework.authtoken.models import Token

from . import tokens


@database_sync_to_async
def user_for_token(key: Any) -> Any:
    if not isinstance(key, str) or not 0 < len(key) <= 64 or "\x00" in key:
        return AnonymousUser()
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active or tokens.expired(token):
        return AnonymousUser()
    return token.user


def query_param(scope: dict[str, Any], name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    return values[0] if values else None


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        key = query_param(scope, "token")
        if key is not None:
            scope = dict(scope, user=await user_for_token(key))
        return await super().__call__(scope, receive, send)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def same_site(origin: str | None, host: str) -> bool:
    """Whether a handshake's Origin is this site: the Host it was sent to (one of ALLOWED_HOSTS),
    or an origin of CSRF_TRUSTED_ORIGINS. No Origin at all is a client that is no browser (a
    server-side one, with its token): a page elsewhere cannot drive it, so it passes."""
    if origin is None:
        return True
    parsed = urlparse(origin)
    if parsed.scheme in ("http", "https") and host and parsed.netloc.lower() == host.lower():
        domain, _port = split_domain_port(host)
        if domain and validate_host(domain, settings.ALLOWED_HOSTS):
            return True
    matcher = OriginValidator(None, [])
    return parsed.hostname is not None and any(
        matcher.match_allowed_origin(parsed, pattern) for pattern in settings.CSRF_TRUSTED_ORIGINS)


class SameOriginValidator:
    """Refuses (HTTP 403, before any consumer runs) a websocket handshake from another site's page."""

    def __init__(self, application: Any):
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if same_site(_header(scope, b"origin"), _header(scope, b"host") or ""):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
