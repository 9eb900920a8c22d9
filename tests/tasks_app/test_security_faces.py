"""What the faces refuse (issue 16: 13, 14, 15), the way the probe tried it, in-process: deeply nested
JSON, the wizard past the create/execute limits, pages with inline code, tokens that should be dead,
and the deployment settings read from the environment (in a fresh interpreter each)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks_app.models import Task
from tests.fakes.processes import ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def token_api(user) -> tuple[APIClient, Token]:
    token = Token.objects.create(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api, token


# --- 13: JSON nested hundreds deep is a 400 in the error format -----------------------------------

@pytest.mark.parametrize("depth", [400, 5000])
def test_deeply_nested_json_is_a_400_in_the_error_format(user, depth):
    api, _ = token_api(user)
    body = '{"title": "x", "agentType": "research", "agentConfig": {"keywords": ' + nested(depth) + "}}"
    answer = api.post("/api/workspace/tasks", body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "parse_error"
    assert "JSON nested deeper than 64 levels" in answer.json()["error"]["message"]
    login = APIClient().post("/api/auth/token", '{"username": ' + nested(depth) + "}", content_type="application/json")
    assert login.status_code == 400 and login.json()["error"]["code"] == "parse_error"
    assert not Task.objects.exists()


def test_the_wizard_refuses_deeply_nested_json_next_to_the_field(logged_in):
    page = logged_in.post("/tasks/new", {"kind": "research", "title": "Deep", "priority": "medium",
                                         "agent_config": '{"keywords": ' + nested(400) + "}"})
    assert page.status_code == 400
    errors = re.search(r'id="errors-agent_config".*?</ul>', page.content.decode(), re.S)
    assert errors and "JSON nested deeper than 64 levels" in errors.group(0)
    assert not Task.objects.exists()


def test_reasonable_nesting_is_accepted(user):
    api, _ = token_api(user)
    plan = {"steps": [{"action": "ai.summarize", "params": {"items": json.loads(nested(30))}}]}
    assert api.post("/api/workspace/tasks", {"title": "ok", "plan": plan}, format="json").status_code == 201


# --- 14: the wizard's form post counts against the API's create and execute limits ----------------

def wizard_post(client, title: str, run_now: bool = False):
    fields = {"kind": "research", "title": title, "priority": "medium",
              "agent_config": json.dumps({"sources": ["hackernews"], "count": 1})}
    return client.post("/tasks/new", {**fields, **({"run_now": "on"} if run_now else {})})


def test_the_wizard_is_held_to_the_create_limit_shared_with_the_api(logged_in, user, settings):
    settings.AGENT_RATE_CREATE = "2/min"
    api, _ = token_api(user)
    assert api.post("/api/workspace/tasks", {"title": "via the API", "agentType": "research",
                                             "agentConfig": {"count": 1}}, format="json").status_code == 201
    assert wizard_post(logged_in, "first from the page").status_code == 302
    refused = wizard_post(logged_in, "one too many")
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
    assert "Too many tasks created or started: try again in" in refused.content.decode()
    assert sorted(Task.objects.values_list("title", flat=True)) == ["first from the page", "via the API"]


def test_starting_from_the_wizard_is_held_to_the_execute_limit(logged_in, settings):
    settings.AGENT_RATE_EXECUTE = "0/min"  # nothing may start: a page that starts one is refused whole
    refused = wizard_post(logged_in, "start it now", run_now=True)
    assert refused.status_code == 429 and not Task.objects.exists()
    assert wizard_post(logged_in, "only store it").status_code == 302
    assert list(Task.objects.values_list("title", "status")) == [("only store it", "pending")]


# --- 15: Content-Security-Policy, and no inline code for it to block ----------------------------

class InlineCode(HTMLParser):
    """Collects inline scripts (not JSON data blocks), <style> elements and style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.nonces: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if "style" in named:
            self.found.append(f"<{tag} style=...>")
        if tag == "style" or (tag == "script" and "src" not in named and named.get("type") != "application/json"):
            self.nonces.append(named.get("nonce"))
            if not named.get("nonce"):
                self.found.append(f"<{tag}> without a nonce")


def inline_code(html: str) -> InlineCode:
    parser = InlineCode()
    parser.feed(html)
    return parser


def test_every_page_sends_a_csp_and_has_no_inline_code(admin_client, admin_user):
    from tasks_app.models import TaskExecution

    task = Task.objects.create(user=admin_user, title="t", status="completed", total_steps=1, current_step=1,
                               result={"x": 1}, execution_trace={"steps": [{"step": 1}]})
    TaskExecution.objects.create(task=task, run=1, step=1, action="http.get", tool="http", output={"a": 1},
                                 status="completed", idempotency_key="k1")
    paths = ["/", "/tasks/", "/tasks/new", f"/tasks/{task.id}/", "/admin/", "/admin/tasks_app/task/",
             f"/admin/tasks_app/task/{task.id}/change/", "/api/docs/"]
    for path in paths:
        page = admin_client.get(path)
        assert page.status_code == 200, path
        policy = page["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
        found = inline_code(page.content.decode())
        assert found.found == [], (path, found.found)
        nonce = re.search(r"script-src 'self' 'nonce-([\w-]+)'", policy).group(1)
        assert all(n == nonce for n in found.nonces), path
    docs = inline_code(admin_client.get("/api/docs/").content.decode())
    assert len(docs.nonces) == 2  # Swagger UI's set-up script and style, allowed by their nonce only
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in admin_client.get(
        "/api/docs/").content.decode()


def test_each_response_gets_its_own_nonce(client):
    first, second = client.get("/login/")["Content-Security-Policy"], client.get("/login/")["Content-Security-Policy"]
    assert first != second and "style-src 'self' 'nonce-" in first
    assert client.get("/login/")["X-Frame-Options"] == "DENY"


def test_hsts_and_secure_cookies_when_served_over_https(client, user, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    page = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert page["Strict-Transport-Security"] == "max-age=31536000"
    assert page.cookies["csrftoken"]["secure"] is True
    login = client.post("/login/", {"username": "ada", "password": "pw-ada-123"}, HTTP_X_FORWARDED_PROTO="https")
    assert login.status_code == 302 and login.cookies["sessionid"]["secure"] is True
    assert "Strict-Transport-Security" not in client.get("/login/")  # plain http: no HSTS


# --- 15: API tokens expire and can be revoked -----------------------------------------------------

def test_an_expired_token_is_refused_with_a_clear_401_and_a_login_issues_a_new_one(user, settings):
    settings.AGENT_TOKEN_TTL_S = 3600
    api, token = token_api(user)
    assert api.get("/api/workspace/tasks").status_code == 200
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(seconds=3601))
    expired = api.get("/api/workspace/tasks")
    assert expired.status_code == 401 and expired["WWW-Authenticate"] == "Token"
    assert expired.json()["error"] == {"code": "authentication_failed", "fields": {},
                                       "message": "token expired: request a new one with POST /api/auth/token"}
    fresh = APIClient().post("/api/auth/token", {"username": "ada", "password": "pw-ada-123"}, format="json").json()
    assert set(fresh) == {"token"} and fresh["token"] != token.key
    api.credentials(HTTP_AUTHORIZATION=f"Token {fresh['token']}")
    assert api.get("/api/workspace/tasks").status_code == 200


def test_delete_revokes_the_callers_token(user):
    api, token = token_api(user)
    assert APIClient().post("/api/auth/token", {"username": "ada", "password": "pw-ada-123"},
                            format="json").json() == {"token": token.key}  # the same token while it lives
    assert APIClient().delete("/api/auth/token").status_code == 401  # nobody's to revoke
    assert api.delete("/api/auth/token").status_code == 204
    assert not Token.objects.filter(user=user).exists()
    gone = api.get("/api/workspace/tasks")
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "authentication_failed"


# --- 15: settings from the environment, the secret key file and var/ -------------------------------

def settings_under(env: dict[str, str], *names: str) -> subprocess.CompletedProcess[str]:
    script = ("import json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'xantuus.settings'; "
              "from django.conf import settings; "
              f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}))")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "XANTUUS_HTTPS"))}
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**base, **env}, capture_output=True,
                          text=True, timeout=60)


def read_settings(env: dict[str, str], *names: str) -> dict:
    done = settings_under(env, *names)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


COOKIES = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")


def test_deployment_settings_come_from_the_environment():
    assert read_settings({}, *COOKIES, "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER", "CSRF_TRUSTED_ORIGINS") == {
        "SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False, "SECURE_HSTS_SECONDS": 0,
        "SECURE_PROXY_SSL_HEADER": None, "CSRF_TRUSTED_ORIGINS": []}
    https = {"XANTUUS_HTTPS": "1", "SECURE_HSTS_SECONDS": "31536000",
             "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
             "DJANGO_CSRF_TRUSTED_ORIGINS": "https://app.example, https://admin.example"}
    assert read_settings(https, *COOKIES, "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER", "CSRF_TRUSTED_ORIGINS") == {
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
        "CSRF_TRUSTED_ORIGINS": ["https://app.example", "https://admin.example"]}
    assert read_settings({**https, "DJANGO_DEBUG": "1"}, *COOKIES) == dict.fromkeys(COOKIES, False)
    bad = settings_under({"SECURE_PROXY_SSL_HEADER": "https"}, "SECURE_PROXY_SSL_HEADER")
    assert bad.returncode != 0 and "SECURE_PROXY_SSL_HEADER must look like 'X-Forwarded-Proto: https'" in bad.stderr


WAIT_THEN_READ_KEY = """
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
os.environ["DJANGO_SETTINGS_MODULE"] = "xantuus.settings"
from django.conf import settings
print(settings.SECRET_KEY)
"""


def test_processes_starting_at_once_share_one_secret_key_written_0600(tmp_path):
    var, go = tmp_path / "var", tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"} | {"XANTUUS_VAR_DIR": str(var)}
    starters = [subprocess.Popen([sys.executable, "-c", WAIT_THEN_READ_KEY, str(go)], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
    go.touch()  # all of them import the settings at the same moment
    outputs = [p.communicate(timeout=120) for p in starters]
    assert all(p.returncode == 0 for p in starters), [err for _, err in outputs]
    keys = {out.strip() for out, _ in outputs}
    assert len(keys) == 1 and len(keys.pop()) >= 50
    assert (var / "secret_key").stat().st_mode & 0o777 == 0o600
    assert var.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in var.iterdir()] == ["secret_key"]  # no drafts left behind


def test_an_old_world_readable_key_file_is_tightened(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    (var / "secret_key").write_text("k" * 50)
    (var / "secret_key").chmod(0o644)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"} | {"XANTUUS_VAR_DIR": str(var)}
    assert read_settings(env, "SECRET_KEY") == {"SECRET_KEY": "k" * 50}
    assert (var / "secret_key").stat().st_mode & 0o777 == 0o600
