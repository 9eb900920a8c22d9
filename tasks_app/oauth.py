"""Connect a Google account: the OAuth 2.0 authorization-code flow for web servers.

/connect/google/ sends the user to Google's consent screen with a random `state` kept in
the session; /connect/google/callback checks that state, exchanges the code at the token
endpoint (through the egress policy) and stores the tokens encrypted. It must never show,
log or put in a URL an access token, refresh token, code or client secret.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any, cast
from urllib.parse import urlencode

import requests
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from tools.config import setting
from tools.egress import EgressPolicy
from tools.errors import EgressDenied, TransientToolError
from tools.google import DEFAULT_TOKEN_URI
from tools.pinning import pinned_session

from . import credentials

log = logging.getLogger(__name__)

DEFAULT_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
SCOPES = ["https://www.googleapis.com/auth/calendar", "https://www.googleapis.com/auth/drive",
          "https://www.googleapis.com/auth/gmail.send"]
STATE_KEY = "google_oauth_state"


class ConnectError(Exception):
    """Why the account was not connected, in words for the user (never a secret)."""


def _client() -> tuple[str, str]:
    client_id, client_secret = setting("GOOGLE_CLIENT_ID", ""), setting("GOOGLE_CLIENT_SECRET", "")
    if not client_id or not client_secret:
        raise ConnectError("Google is not configured on this server: the operator must set GOOGLE_CLIENT_ID"
                           " and GOOGLE_CLIENT_SECRET")
    return client_id, client_secret


def _user_id(request: HttpRequest) -> int:
    return cast(User, request.user).id  # every view here requires a login


def _redirect_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("connect-google-callback"))


def _failed(request: HttpRequest, reason: str, status: int = 400) -> HttpResponse:
    return render(request, "tasks_app/connect_error.html", {"reason": reason}, status=status)


@login_required
def connect_google(request: HttpRequest) -> HttpResponse:
    """Send the user to Google's consent screen."""
    try:
        client_id, _ = _client()
    except ConnectError as exc:
        return _failed(request, str(exc), status=503)
    state = secrets.token_urlsafe(32)
    request.session[STATE_KEY] = state
    query = {"client_id": client_id, "redirect_uri": _redirect_uri(request), "response_type": "code",
             "scope": " ".join(SCOPES), "access_type": "offline", "prompt": "consent", "state": state,
             "include_granted_scopes": "true"}
    return redirect(f"{setting('GOOGLE_AUTH_URI', DEFAULT_AUTH_URI)}?{urlencode(query)}")


@login_required
def connect_google_callback(request: HttpRequest) -> HttpResponse:
    """Google sent the user back: check the state, exchange the code, store the tokens."""
    expected = request.session.pop(STATE_KEY, None)
    state = request.GET.get("state", "")
    if not expected or not secrets.compare_digest(str(expected), state):
        return _failed(request, "This sign-in link is not the one this page started (it expired, was used"
                                " already, or came from elsewhere). Start again with “Connect Google”.")
    if request.GET.get("error"):
        error = request.GET["error"][:100]
        reason = ("You declined access on Google's consent screen, so nothing was connected."
                  if error == "access_denied" else f"Google did not grant access ({error}).")
        return _failed(request, reason)
    code = request.GET.get("code", "")
    if not code:
        return _failed(request, "Google sent no authorization code back. Start again with “Connect Google”.")
    try:
        secret = _exchange(code, _redirect_uri(request))
    except ConnectError as exc:
        return _failed(request, str(exc), status=502)
    previous = credentials.load_all(user_id=_user_id(request)).get("google")
    if not secret.get("refresh_token") and isinstance(previous, dict) and previous.get("refresh_token"):
        secret["refresh_token"] = previous["refresh_token"]  # Google sends it only at first consent
    credentials.store(user_id=_user_id(request), provider="google", secret=secret)
    messages.success(request, "Google account connected: calendar, drive and email steps can use it now.")
    return redirect("dashboard")


def _exchange(code: str, redirect_uri: str) -> dict[str, Any]:
    """POST the code to the token endpoint; the stored credential in google-auth's field names."""
    client_id, client_secret = _client()
    token_uri = setting("GOOGLE_TOKEN_URI", DEFAULT_TOKEN_URI)
    form = {"code": code, "client_id": client_id, "client_secret": client_secret, "redirect_uri": redirect_uri,
            "grant_type": "authorization_code"}
    try:
        egress = EgressPolicy.from_settings()
        egress.check_target(token_uri)
        with pinned_session(egress) as session:  # connects to the address it checked
            response = session.post(token_uri, data=form, timeout=float(setting("AGENT_HTTP_TIMEOUT_S", 15)),
                                    allow_redirects=False)
            answer = response.json()
    except EgressDenied as exc:
        raise ConnectError(f"The token endpoint may not be reached: {exc}") from None
    except (requests.RequestException, ValueError, TransientToolError) as exc:
        log.warning("Google token exchange failed: %s", exc.__class__.__name__)
        raise ConnectError("Google's token endpoint did not answer properly; try again in a moment.") from None
    if response.status_code != 200 or not isinstance(answer, dict) or not answer.get("access_token"):
        error = str(answer.get("error", response.status_code) if isinstance(answer, dict) else response.status_code)
        raise ConnectError(f"Google refused the authorization code ({error[:100]}). Start again with"
                           " “Connect Google”.")
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=int(answer.get("expires_in") or 3600))
    secret = {"token": answer["access_token"], "refresh_token": answer.get("refresh_token"), "token_uri": token_uri,
              "client_id": client_id, "scopes": str(answer.get("scope") or " ".join(SCOPES)).split(),
              "expiry": expires.isoformat()}
    return {key: value for key, value in secret.items() if value}


@login_required
@require_POST
def disconnect_google(request: HttpRequest) -> HttpResponse:
    """Forget the stored Google tokens (revoking the app's access is done in the Google account)."""
    if credentials.remove(user_id=_user_id(request), provider="google"):
        messages.success(request, "Google account disconnected: its tokens were deleted here.")
    return redirect("dashboard")
