"""Shared fixtures. The test command points DATABASE_URL at PostgreSQL and REDIS_URL at Redis."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from tests.fakes import processes
from tests.fakes.hn_server import FakeHackerNews
from tests.fakes.processes import Server

pytest_plugins = ["tests.fakes.anthropic_fixtures", "tests.fakes.smtp_sink", "tests.fakes.google_server",
                  "tests.fakes.pdl_server"]

LOOPBACK = ["127.0.0.0/8", "::1/128", "localhost"]


@pytest.fixture(autouse=True)
def fresh_cache():
    """The throttles' and the login guard's counters live in the cache (Redis in the suite): none carry over."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def loopback_allowed(settings):
    """Allow-list loopback for tools, as the suite's local servers live there."""
    settings.AGENT_EGRESS_ALLOWLIST = list(LOOPBACK)
    return settings.AGENT_EGRESS_ALLOWLIST


@pytest.fixture
def tool_context(loopback_allowed):
    from tools.base import ToolContext
    from tools.egress import EgressPolicy

    return ToolContext(task_id="t-test", user_id=1, user_email="user@example.com",
                       idempotency_key="task:t-test:run:1:step:1",
                       egress=EgressPolicy.from_entries(loopback_allowed))


@pytest.fixture
def hn_server(settings, loopback_allowed) -> Iterator[FakeHackerNews]:
    with FakeHackerNews() as server:
        settings.HACKERNEWS_API_URL = server.url
        yield server


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="ada", email="ada@example.com", password="pw-ada-123")


@pytest.fixture
def inline_engine(settings, transactional_db) -> Iterator[None]:
    """The embedded runner: steps run on the in-process runner thread against the test database."""
    from agents.dispatch import INLINE

    settings.EMBEDDED = True
    settings.AGENT_RETRY_BASE_S = 0.05
    yield
    assert INLINE.wait_idle(timeout=30), "the inline runner did not go idle"


@pytest.fixture
def celery_worker(transactional_db, settings, loopback_allowed, tmp_path) -> Iterator[Server]:
    """A real `celery -A xantuus worker` on the test database and Redis (no -Q: every queue)."""
    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL must point at Redis for tests with a real worker (bin/test sets it)")
    settings.EMBEDDED = False
    settings.AGENT_RETRY_BASE_S = 0.05
    from xantuus.celery import app

    app.control.purge()  # wake-ups left over from earlier tests point at flushed rows
    worker = processes.celery_worker("worker", processes.stack_env(), tmp_path)
    try:
        processes.wait_until_ready(worker, "ready.")
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def daphne(transactional_db, settings, tmp_path) -> Iterator[str]:
    """A daphne process serving xantuus.asgi on the test database; yields its host:port."""
    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL must point at Redis: the feed goes through channels-redis")
    server, host = processes.daphne(processes.stack_env(), tmp_path)
    try:
        yield host
    finally:
        server.stop()


def pytest_report_header(config):
    return f"database: {settings.DATABASES['default']['ENGINE']}, redis: {settings.REDIS_URL or '(embedded)'}"
