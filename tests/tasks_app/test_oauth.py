"""Connecting a Google account through the consent screen, against the local fake Google."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tasks_app import credentials, services
from tasks_app.models import Credential
from tasks_app.oauth import SCOPES
from tests.agents.helpers import run_inline_approving
from tests.fakes.google_server import CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.usefixtures("inline_engine")

CALLBACK = "http://testserver/connect/google/callback"


@pytest.fixture
def google(settings, google_server, loopback_allowed):
    settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    settings.GOOGLE_TOKEN_URI = f"{google_server.url}/token"
    settings.GOOGLE_AUTH_URI = f"{google_server.url}/o/oauth2/v2/auth"
    return google_server


@pytest.fixture
def browser(client, user):
    client.force_login(user)
    return client


def start(browser, google) -> dict[str, str]:
    """Press "Connect Google": the redirect to the consent screen, its query as a dict."""
    answer = browser.get("/connect/google/")
    assert answer.status_code == 302
    location = urlsplit(answer["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{google.url}/o/oauth2/v2/auth"
    query = parse_qs(location.query)
    assert all(len(values) == 1 for values in query.values())
    return {key: values[0] for key, values in query.items()}


def test_connecting_stores_the_tokens_encrypted_and_a_calendar_step_uses_them(browser, user, google):
    query = start(browser, google)
    assert query["client_id"] == CLIENT_ID and query["redirect_uri"] == CALLBACK
    assert (query["response_type"], query["access_type"], query["prompt"]) == ("code", "offline", "consent")
    assert query["scope"].split() == SCOPES and len(query["state"]) >= 32
    code = google.authorization_code(" ".join(SCOPES))
    back = browser.get("/connect/google/callback", {"code": code, "state": query["state"]})
    assert back.status_code == 302 and back["Location"] == "/"
    stored = credentials.load_all(user_id=user.id)["google"]
    assert stored["token"] in google.access_tokens and stored["refresh_token"] in google.refresh_tokens
    assert stored["scopes"] == SCOPES and "client_secret" not in stored
    assert stored["refresh_token"] not in Credential.objects.get(user=user).ciphertext
    assert google.token_grants[-1]["redirect_uri"] == CALLBACK
    dashboard = browser.get("/").content.decode()
    assert "Google account connected" in dashboard and "Disconnect" in dashboard

    plan = {"steps": [{"action": "calendar.create", "params": {
        "summary": "Planning", "start": "2030-05-01T09:00:00+00:00", "end": "2030-05-01T10:00:00+00:00"}}]}
    task = run_inline_approving(services.task_create(user=user, title="Book planning", plan=plan), user,
                                ["calendar.create"])  # a write to Google: its owner approves it
    assert task.status == "completed", task.error
    [created] = [r for r in google.api_requests() if r.method == "POST"]
    assert created.bearer == stored["token"]
    assert [e["summary"] for e in google.events["primary"].values()] == ["Planning"]
    pages = dashboard + browser.get(f"/tasks/{task.id}/").content.decode()
    for secret in (stored["token"], stored["refresh_token"], code, CLIENT_SECRET):
        assert secret not in pages


def test_a_state_that_this_session_did_not_start_is_refused(browser, user, google):
    query = start(browser, google)
    forged = browser.get("/connect/google/callback", {"code": google.authorization_code(), "state": "forged"})
    assert forged.status_code == 400 and "not the one this page started" in forged.content.decode()
    replayed = browser.get("/connect/google/callback", {"code": google.authorization_code(), "state": query["state"]})
    assert replayed.status_code == 400, "the state is used up by the first callback"
    assert not Credential.objects.exists()
    assert not [g for g in google.token_grants if g["grant_type"] == "authorization_code"], "no code was exchanged"


def test_declined_consent_stores_nothing_and_says_so(browser, google):
    query = start(browser, google)
    answer = browser.get("/connect/google/callback", {"error": "access_denied", "state": query["state"]})
    assert answer.status_code == 400 and "You declined access" in answer.content.decode()
    assert not Credential.objects.exists() and google.token_grants == []


def test_a_code_google_refuses_shows_why(browser, google):
    query = start(browser, google)
    answer = browser.get("/connect/google/callback", {"code": "4/never-issued", "state": query["state"]})
    assert answer.status_code == 502 and "invalid_grant" in answer.content.decode()
    assert "4/never-issued" not in answer.content.decode() and not Credential.objects.exists()


def test_disconnect_forgets_the_tokens(browser, user, google):
    credentials.store(user_id=user.id, provider="google", secret=google.credentials())
    answer = browser.post("/connect/google/disconnect")
    assert answer.status_code == 302 and credentials.load_all(user_id=user.id) == {}
    assert "Connect Google" in browser.get("/").content.decode()


def test_without_a_login_or_a_configured_client_nothing_starts(client, user, settings, google):
    assert client.get("/connect/google/")["Location"].startswith("/login/")
    client.force_login(user)
    settings.GOOGLE_CLIENT_ID = ""
    answer = client.get("/connect/google/")
    assert answer.status_code == 503 and "GOOGLE_CLIENT_ID" in answer.content.decode()
