"""API test fixtures: token-authenticated clients for the owner, another user and nobody."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture(autouse=True)
def fresh_throttles():
    cache.clear()  # DRF's throttle history lives in the default cache
    yield
    cache.clear()


@pytest.fixture
def api(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def intruder(django_user_model):
    return django_user_model.objects.create_user(username="eve", email="eve@example.com", password="pw-eve-123")


@pytest.fixture
def intruder_api(intruder) -> APIClient:
    return client_for(intruder)


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


def research_task(**overrides):
    """The seed's 'Daily HN Summary' request body."""
    return {"title": "Daily HN Summary", "agentType": "research",
            "agentConfig": {"sources": ["hackernews"], "count": 5, "schedule": "0 9 * * *"}, **overrides}
