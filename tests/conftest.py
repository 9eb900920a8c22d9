"""Shared fixtures. The test command points DATABASE_URL at PostgreSQL and REDIS_URL at Redis."""
from __future__ import annotations

import pytest
from django.conf import settings


@pytest.fixture
def loopback_allowed(settings):  # noqa: F811 - pytest-django's settings fixture
    """Allow-list loopback for tools, as the suite's local servers live there."""
    settings.AGENT_EGRESS_ALLOWLIST = ["127.0.0.0/8", "::1/128", "localhost"]
    return settings.AGENT_EGRESS_ALLOWLIST


@pytest.fixture
def tool_context(loopback_allowed):
    from tools.base import ToolContext
    from tools.egress import EgressPolicy

    return ToolContext(task_id="t-test", user_id=1, user_email="user@example.com",
                       idempotency_key="task:t-test:run:1:step:1",
                       egress=EgressPolicy.from_entries(loopback_allowed))


def pytest_report_header(config):
    return f"database: {settings.DATABASES['default']['ENGINE']}, redis: {settings.REDIS_URL or '(embedded)'}"
