"""Password guessing, the way the probe did it: many guesses at /api/auth/token (a new X-Forwarded-For
each time), at /login/ and at /admin/login/. Every path is throttled per client address, a username
is locked after repeated failures whatever the path, and nothing says whether the username exists.
"""
from __future__ import annotations

import time

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from rest_framework.test import APIClient

from tasks_app.client_address import client_address

pytestmark = pytest.mark.django_db
TOKEN = "/api/auth/token"


@pytest.fixture(autouse=True)
def fresh_counters(settings):
    settings.AGENT_LOGIN_MAX_FAILURES, settings.AGENT_LOGIN_LOCKOUT_S = 5, 900
    settings.AGENT_TRUSTED_PROXIES = []
    cache.clear()  # the counters live in the shared cache (Redis in the suite)
    yield
    cache.clear()


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="root", password="pw-root-123", is_staff=True,
                                                 is_superuser=True)


def guess(username: str, password: str, address: str = "127.0.0.1", **headers: str):
    return APIClient(REMOTE_ADDR=address).post(TOKEN, {"username": username, "password": password}, format="json",
                                               **headers)


def test_a_new_x_forwarded_for_per_guess_does_not_reset_the_address_limit(user, settings):
    settings.AGENT_RATE_LOGIN = "3/min"
    answers = [guess(f"user{n}", "guess", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}") for n in range(5)]
    assert [a.status_code for a in answers] == [400, 400, 400, 429, 429]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "throttled" and "from this address" in refused.json()["error"]["message"]
    assert 0 < int(refused["Retry-After"]) <= 60
    assert guess("ada", "pw-ada-123", address="198.51.100.7").status_code == 200  # another address is not affected


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(rf, settings):
    forwarded = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "9.9.9.9, 203.0.113.8"}
    assert client_address(rf.post(TOKEN, **forwarded)) == "10.0.0.5"  # no proxy configured: the peer
    settings.AGENT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    # the hop the proxy appended is the client; what the client wrote to the left of it is not
    assert client_address(rf.post(TOKEN, **forwarded)) == "203.0.113.8"
    direct = {"REMOTE_ADDR": "198.51.100.9", "HTTP_X_FORWARDED_FOR": "203.0.113.8"}
    assert client_address(rf.post(TOKEN, **direct)) == "198.51.100.9"  # not through the proxy: ignored


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(user, settings):
    settings.AGENT_RATE_LOGIN, settings.AGENT_TRUSTED_PROXIES = "2/min", ["127.0.0.1"]
    spoofing = [guess("eve", "x", HTTP_X_FORWARDED_FOR=f"{n}.{n}.{n}.{n}, 203.0.113.66") for n in range(1, 4)]
    assert [a.status_code for a in spoofing] == [400, 400, 429]  # one client, whatever it writes in front
    assert guess("ada", "pw-ada-123", HTTP_X_FORWARDED_FOR="203.0.113.77").status_code == 200


def test_a_username_is_locked_after_five_failures_even_for_the_right_password(user, settings):
    settings.AGENT_RATE_LOGIN = "1000/min"
    wrong = [guess("ada", f"guess{n}", address=f"198.51.100.{n}") for n in range(5)]  # from five addresses
    assert [a.status_code for a in wrong] == [400] * 5
    locked = guess("ada", "pw-ada-123", address="198.51.100.200")
    assert locked.status_code == 429 and "token" not in locked.json()
    assert 800 < int(locked["Retry-After"]) <= 900
    assert "Too many failed logins for this username" in locked.json()["error"]["message"]


def test_the_lockout_does_not_reveal_whether_the_username_exists(user, settings):
    settings.AGENT_RATE_LOGIN = "1000/min"
    for _ in range(5):
        real, unknown = guess("ada", "wrong"), guess("nobody", "wrong")
        assert real.status_code == unknown.status_code == 400 and real.json() == unknown.json()
    real, unknown = guess("ada", "pw-ada-123"), guess("nobody", "wrong")
    assert real.status_code == unknown.status_code == 429 and real.json() == unknown.json()
    assert abs(int(real["Retry-After"]) - int(unknown["Retry-After"])) <= 1


def test_the_login_page_refuses_a_locked_username_with_a_clear_error(client, user, settings):
    settings.AGENT_RATE_LOGIN = "1000/min"
    for n in range(5):
        assert client.post("/login/", {"username": "ada", "password": f"guess{n}"}).status_code == 200
    locked = client.post("/login/", {"username": "ada", "password": "pw-ada-123"})
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 800
    assert "Too many failed logins for this username; try again in 15 minutes." in locked.content.decode()
    assert SESSION_KEY not in client.session  # not logged in


def test_the_admin_login_is_guarded_and_shares_the_count_with_the_other_paths(client, staff, settings):
    settings.AGENT_RATE_LOGIN = "1000/min"
    assert guess("root", "api-guess").status_code == 400
    assert client.post("/login/", {"username": "root", "password": "page-guess"}).status_code == 200
    for n in range(3):
        page = client.post("/admin/login/", {"username": "root", "password": f"admin-guess{n}", "next": "/admin/"})
        assert page.status_code == 200 and "Please enter the correct username and password" in page.content.decode()
    locked = client.post("/admin/login/", {"username": "root", "password": "pw-root-123", "next": "/admin/"})
    assert "Too many failed logins for this username" in locked.content.decode()
    assert SESSION_KEY not in client.session
    assert guess("root", "pw-root-123").status_code == 429  # and the API says the same


def test_the_admin_login_page_is_throttled_per_address(client, staff, settings):
    settings.AGENT_RATE_LOGIN = "2/min"
    for name in ("a", "b"):
        page = client.post("/admin/login/", {"username": name, "password": "x"})
        assert "Please enter the correct" in page.content.decode()
    refused = client.post("/admin/login/", {"username": "root", "password": "pw-root-123"})
    assert "Too many login attempts from this address" in refused.content.decode()
    assert SESSION_KEY not in client.session


def test_a_success_resets_the_count_and_the_lock_ends_after_the_cool_down(client, user, settings):
    settings.AGENT_RATE_LOGIN, settings.AGENT_LOGIN_LOCKOUT_S = "1000/min", 8
    for _ in range(4):
        assert guess("ada", "wrong").status_code == 400
    assert guess("ada", "pw-ada-123").status_code == 200  # four failures, then the owner logs in: reset
    for _ in range(5):
        assert guess("ada", "wrong").status_code == 400
    assert guess("ada", "pw-ada-123").status_code == 429
    deadline = time.monotonic() + 20
    while (answer := guess("ada", "pw-ada-123")).status_code == 429 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert answer.status_code == 200 and answer.json()["token"]


def test_passwords_are_checked_by_djangos_validators_where_they_are_set(admin_client):
    page = admin_client.post("/admin/auth/user/add/", {"username": "weak", "password1": "12345678",
                                                       "password2": "12345678", "usable_password": "true"})
    text = page.content.decode()
    assert "This password is too short. It must contain at least 10 characters." in text
    assert "This password is too common." in text and "This password is entirely numeric." in text
    from django.contrib.auth.models import User

    assert not User.objects.filter(username="weak").exists()
