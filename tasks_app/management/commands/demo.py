"""demo: the main job on the embedded default — the seed's Daily HN Summary, end to end.

This machine class has no internet, so the HN API is served from examples/hn_sample on
127.0.0.1 (the same JSON shape as the public API). Everything else is the real engine:
SQLite, the in-process runner, the offline LLM, the email written to var/mail.
"""
from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

EXAMPLES = Path(settings.BASE_DIR) / "examples"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Command(BaseCommand):
    help = "Run the seed's Daily HN Summary on the embedded default, against sample HN data on 127.0.0.1."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print only the final task as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        handler = functools.partial(QuietHandler, directory=str(EXAMPLES / "hn_sample"))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        settings.HACKERNEWS_API_URL = f"http://127.0.0.1:{server.server_port}"
        settings.AGENT_EGRESS_ALLOWLIST = [*settings.AGENT_EGRESS_ALLOWLIST, "127.0.0.1/32"]
        try:
            call_command("run_task", str(EXAMPLES / "daily_hn_summary.json"), user="demo",
                         email="demo@example.com", json=options["json"], stdout=self.stdout)
        finally:
            server.shutdown()
        if not options["json"]:
            self.stdout.write(f"The summary email was written to {settings.EMAIL_FILE_PATH}/")
