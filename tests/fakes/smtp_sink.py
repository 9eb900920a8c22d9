"""A real SMTP server for tests (aiosmtpd on 127.0.0.1) that keeps what it receives.

The `smtp_sink` fixture (registered for the whole suite in tests/conftest.py) starts it on
a free port and points Django's email settings at it (SMTP backend, EMAIL_HOST,
EMAIL_PORT, no TLS, no login). It must never relay mail.

    def test_x(smtp_sink):
        ...send...
        message = smtp_sink.messages[0]        # an email.message.EmailMessage
        smtp_sink.envelopes[0].rcpt_tos        # who the server was asked to deliver to
        smtp_sink.envelopes[0].data            # the raw bytes as received (CRLF line ends)
"""
from __future__ import annotations

import email.policy
import socket
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Envelope:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class SMTPSink:
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's handler hook
        data = envelope.original_content or envelope.content
        self.envelopes.append(Envelope(envelope.mail_from, list(envelope.rcpt_tos), data))
        # Parsed with the wire's CRLF turned into \n, so text parts read as they were written.
        parsed = BytesParser(policy=email.policy.default).parsebytes(data.replace(b"\r\n", b"\n"))
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[EmailMessage]:
        """The messages once at least `count` arrived (for sends from another thread or process)."""
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} messages, {len(self.messages)} arrived in {timeout_s}s")
            time.sleep(0.02)
        return self.messages


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_sink(settings):  # pytest-django's settings fixture
    """A running SMTP sink with Django's email settings pointed at it."""
    sink = SMTPSink(port=_free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = sink.host
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    yield sink
    controller.stop()
