"""/api/credentials: store, list and forget connected accounts; secrets never come back."""
from __future__ import annotations

import pytest

from tasks_app import credentials
from tasks_app.models import Credential
from tools.base import ToolContext
from tools.errors import ToolError
from tools.registry import get_action

pytestmark = pytest.mark.django_db

GOOGLE = {"token": "ya29.secret-access", "refresh_token": "1//secret-refresh",
          "token_uri": "https://oauth2.googleapis.com/token", "client_id": "cid.apps.googleusercontent.com",
          "client_secret": "secret-client", "scopes": ["https://www.googleapis.com/auth/calendar"],
          "expiry": "2030-01-01T10:00:00Z"}


def test_a_google_account_is_stored_encrypted_and_listed_without_its_secrets(api, user):
    answer = api.put("/api/credentials/google", GOOGLE, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["provider"] == "google" and answer.json()["updatedAt"]
    listed = api.get("/api/credentials")
    assert [row["provider"] for row in listed.json()] == ["google"]
    shown = answer.content.decode() + listed.content.decode()
    row = Credential.objects.get(user=user)
    for secret in ("ya29.secret-access", "1//secret-refresh", "secret-client"):
        assert secret not in shown and secret not in row.ciphertext
    stored = credentials.load_all(user_id=user.id)["google"]
    assert stored["refresh_token"] == "1//secret-refresh" and stored["expiry"].startswith("2030-01-01T10:00")


def test_the_email_provider_reaches_the_email_tool_as_a_plain_string(api, user):
    assert api.put("/api/credentials/email_provider", {"provider": "gmail"}, format="json").status_code == 200
    stored = credentials.load_all(user_id=user.id)
    assert stored["email_provider"] == "gmail"
    # the email tool now sends through Gmail, and says it needs a Google account
    with pytest.raises(ToolError, match="email via Gmail needs a connected Google account"):
        get_action("email.send").run({"to": ["a@example.com"], "subject": "s", "body": "b"},
                                     ToolContext(credentials=stored))


def test_invalid_bodies_name_the_field(api, user):
    cases = [
        ("google", {}, "body"),
        ("google", {"token": 5}, "token"),
        ("google", {**GOOGLE, "colour": "red"}, "colour"),
        ("google", {"refresh_token": "r", "token_uri": "https://evil.example/token"}, "token_uri"),
        ("email_provider", {"provider": "pigeon"}, "provider"),
    ]
    for provider, body, field in cases:
        answer = api.put(f"/api/credentials/{provider}", body, format="json")
        assert answer.status_code == 400, (body, answer.content)
        assert answer.json()["error"]["code"] == "invalid" and field in answer.json()["error"]["fields"], body
    assert not Credential.objects.exists()


def test_an_own_client_may_use_another_token_endpoint(api, user):
    body = {"refresh_token": "r", "token_uri": "https://login.example/token", "client_id": "c", "client_secret": "s"}
    assert api.put("/api/credentials/google", body, format="json").status_code == 200


def test_unknown_providers_are_404_and_delete_forgets(api, user):
    assert api.put("/api/credentials/dropbox", {"token": "x"}, format="json").status_code == 404
    assert api.delete("/api/credentials/google").status_code == 404
    api.put("/api/credentials/google", GOOGLE, format="json")
    assert api.delete("/api/credentials/google").status_code == 204
    assert api.get("/api/credentials").json() == [] and credentials.load_all(user_id=user.id) == {}
