"""google: OAuth2 user credentials and an authorized session for the Google tools.

Builds google-auth credentials from ``context.credentials["google"]``, sends every request
(token refreshes included) through the egress policy's pinned transport (tools.pinning: each
connection goes to the address the policy checked), lets google-auth refresh expired
tokens, and turns Google's answers into ToolErrors. It must never put an access token,
refresh token or client secret into an output, an error message or a log line.

A refreshed token is written back into ``context.credentials["google"]`` (the executor
compares it with what it passed in and stores the new one encrypted);
``refreshed_credentials`` gives the same dict for a Credentials object.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import IO, Any

import google.auth.exceptions
import requests
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2.credentials import Credentials

from .base import ToolContext
from .config import setting
from .egress import EgressPolicy
from .errors import ToolError, TransientToolError
from .pinning import PinnedAdapter, pinned_session

DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
API_BASES = {
    "GOOGLE_API_BASE_URL": "https://www.googleapis.com",
    "GMAIL_API_BASE_URL": "https://gmail.googleapis.com",
}
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# Names the stored dict may use for the same field (google-auth's to_json names are canonical).
_ALIASES = {
    "accessToken": "token", "access_token": "token", "refreshToken": "refresh_token",
    "tokenUri": "token_uri", "clientId": "client_id", "clientSecret": "client_secret",
}


def api_base(name: str) -> str:
    return str(setting(name, API_BASES[name])).rstrip("/")


class GoogleAPIError(ToolError):
    """Google answered with an error; `status` lets a caller treat 404/409/410 as it needs."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def _stored(context: ToolContext, label: str) -> dict[str, Any]:
    raw = context.credentials.get("google")
    if isinstance(raw, dict):
        info = {_ALIASES.get(str(key), str(key)): value for key, value in raw.items()}
        if info.get("token") or info.get("refresh_token"):
            return info
    raise ToolError(
        f"{label} needs a connected Google account: connect Google for this user"
        " (the task has no Google credentials)"
    )


def _expiry(value: Any) -> dt.datetime | None:
    """google-auth wants a naive UTC datetime."""
    if value in (None, ""):
        return None
    try:
        if isinstance(value, (int, float)):
            moment = dt.datetime.fromtimestamp(value, dt.UTC)
        elif isinstance(value, dt.datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        else:
            moment = dt.datetime.fromisoformat(str(value))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    except (TypeError, ValueError, OverflowError):
        raise ToolError("the stored Google credentials have an unreadable expiry; reconnect Google") from None
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def credentials_from_context(context: ToolContext, label: str) -> Credentials:
    """google-auth user credentials from context.credentials["google"]; a clear ToolError if absent."""
    info = _stored(context, label)
    scopes = info.get("scopes")
    return Credentials(
        token=info.get("token") or None,
        refresh_token=info.get("refresh_token") or None,
        token_uri=info.get("token_uri") or setting("GOOGLE_TOKEN_URI", DEFAULT_TOKEN_URI),
        client_id=info.get("client_id") or setting("GOOGLE_CLIENT_ID", "") or None,
        client_secret=info.get("client_secret") or setting("GOOGLE_CLIENT_SECRET", "") or None,
        scopes=scopes.split() if isinstance(scopes, str) else scopes,
        expiry=_expiry(info.get("expiry")),
    )


def refreshed_credentials(creds: Credentials) -> dict[str, Any]:
    """The credentials as a dict in the stored shape, for the caller to persist (encrypted)."""
    values = {
        "token": creds.token, "refresh_token": creds.refresh_token, "token_uri": creds.token_uri,
        "client_id": creds.client_id, "client_secret": creds.client_secret,
        "scopes": list(creds.scopes) if creds.scopes else None,
        "expiry": creds.expiry.isoformat() + "Z" if creds.expiry else None,
    }
    return {key: value for key, value in values.items() if value is not None}


class _EgressRequest(Request):
    """google-auth's transport for token refreshes, on the egress policy's pinned session."""

    def __init__(self, egress: EgressPolicy):
        self.http_session = pinned_session(egress)
        super().__init__(self.http_session)
        self._egress = egress

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: Any = 30, **kwargs: Any) -> Any:
        self._egress.check_target(url)
        kwargs["allow_redirects"] = False
        return super().__call__(url, method=method, body=body, headers=headers, timeout=timeout, **kwargs)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content) if self.content else None


class GoogleSession:
    """Requests to one Google API for one tool call (use it in a `with`, which closes the
    connections); `label` names the tool in error messages."""

    def __init__(self, context: ToolContext, label: str, base_setting: str = "GOOGLE_API_BASE_URL"):
        self.context = context
        self.label = label
        self.credentials = credentials_from_context(context, label)
        self._secrets = [s for s in (self.credentials.token, self.credentials.refresh_token,
                                     self.credentials.client_secret) if s]
        self._token = self.credentials.token
        self.base = api_base(base_setting)
        self.timeout = float(setting("AGENT_HTTP_TIMEOUT_S", 15))
        self.max_bytes = int(setting("AGENT_HTTP_MAX_BYTES", 5 * 1024 * 1024))
        self._auth_request = _EgressRequest(context.egress)
        self.session = AuthorizedSession(self.credentials, auth_request=self._auth_request)
        self.session.trust_env = False  # no proxy or .netrc from the environment (see tools.pinning)
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, PinnedAdapter(context.egress))

    def __enter__(self) -> GoogleSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()
        self._auth_request.http_session.close()

    def request(self, method: str, path: str, *, max_bytes: int | None = None, **kwargs: Any) -> Answer:
        """Send and read the whole answer (capped); GoogleAPIError for 4xx, Transient for 5xx/429."""
        response = self._send(method, path, **kwargs)
        with response:
            content, _ = self._read(response, max_bytes or self.max_bytes, None)
        return Answer(response.status_code, dict(response.headers), content)

    def download(self, path: str, sink: IO[bytes], *, max_bytes: int, **kwargs: Any) -> int:
        """GET into `sink`; refuses (ToolError) once more than max_bytes arrive. Returns the size."""
        response = self._send("GET", path, **kwargs)
        with response:
            return self._read(response, max_bytes, sink)[1]

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.base + path
        self.context.egress.check_target(url)  # the host is resolved and checked as it is connected
        try:
            response = self.session.request(method, url, timeout=self.context.remaining(self.timeout),
                                            allow_redirects=False, stream=True, **kwargs)
        except google.auth.exceptions.RefreshError as exc:
            if getattr(exc, "retryable", False):
                raise TransientToolError(f"{self.label}: Google's token endpoint is unavailable; try again") from None
            raise self._reconnect() from None
        except (requests.Timeout, requests.ConnectionError, google.auth.exceptions.TransportError) as exc:
            raise TransientToolError(
                f"{self.label}: {method} {path} could not reach Google: {exc.__class__.__name__}"
            ) from None
        finally:
            self._store_refreshed()
        self.context.logger.info("%s: %s %s -> %s", self.label, method, path, response.status_code)
        if response.status_code >= 300:
            with response:
                self._raise_for(method, path, response)
        return response

    def _read(self, response: requests.Response, max_bytes: int, sink: IO[bytes] | None) -> tuple[bytes, int]:
        body, size = bytearray(), 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise ToolError(f"{self.label}: Google's answer is larger than {max_bytes} bytes")
            if sink is None:
                body += chunk
            else:
                sink.write(chunk)
        return bytes(body), size

    def _reconnect(self) -> ToolError:
        return GoogleAPIError(
            f"{self.label}: Google refused this account's authorization (revoked or expired);"
            " the Google account must be reconnected", 401,
        )

    def _raise_for(self, method: str, path: str, response: requests.Response) -> None:
        status = response.status_code
        if status == 401:
            raise self._reconnect()
        if 300 <= status < 400:
            raise GoogleAPIError(f"{self.label}: {method} {path} answered an unexpected redirect ({status})", status)
        message, reasons = self._google_error(response)
        text = self.scrub(f"{self.label}: Google answered {status} to {method} {path}: {message}")
        if status in TRANSIENT_STATUSES or (status == 403 and reasons & RATE_LIMIT_REASONS):
            raise TransientToolError(text)
        raise GoogleAPIError(text, status)

    @staticmethod
    def _google_error(response: requests.Response) -> tuple[str, set[str]]:
        raw = response.raw.read(16 * 1024, decode_content=True) or b""
        try:
            error = json.loads(raw).get("error")
        except (ValueError, AttributeError):
            return raw.decode("utf-8", "replace")[:300] or response.reason, set()
        if isinstance(error, dict):
            reasons = {e.get("reason", "") for e in error.get("errors", []) if isinstance(e, dict)}
            return str(error.get("message", ""))[:300], reasons
        return str(error)[:300], set()

    def scrub(self, text: str) -> str:
        for secret in [*self._secrets, self.credentials.token]:
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    def _store_refreshed(self) -> None:
        if self.credentials.token and self.credentials.token != self._token:
            self._token = self.credentials.token
            self._secrets.append(self._token)
            stored = {_ALIASES.get(k, k): v for k, v in (self.context.credentials.get("google") or {}).items()}
            self.context.credentials["google"] = {**stored, **refreshed_credentials(self.credentials)}
            self.context.logger.info("%s: refreshed the Google access token", self.label)
