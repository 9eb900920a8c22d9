"""The `fake_anthropic` pytest fixture: a running FakeAnthropic the settings point the SDK at.

Register it with `pytest_plugins = ["tests.fakes.anthropic_fixtures"]`; it needs Django
settings but no database, and it never lets a test reach the real API.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic_server import FakeAnthropic

FAKE_API_KEY = "sk-test-fake"


@pytest.fixture
def fake_anthropic(settings) -> Iterator[FakeAnthropic]:
    """Start the fake, make the anthropic provider the configured one, stop it afterwards."""
    with FakeAnthropic(api_key=FAKE_API_KEY) as fake:
        settings.ANTHROPIC_API_KEY = FAKE_API_KEY
        settings.ANTHROPIC_BASE_URL = fake.url
        settings.AGENT_LLM_PROVIDER = "anthropic"
        yield fake
