"""A People Data Labs-shaped Person Enrichment server on 127.0.0.1, for the data_processing tests.

`GET /v5/person/enrich?email=...` with `X-Api-Key`: 401 without the right key, 200 with
{"status": 200, "likelihood": N, "data": {...}} for a known email, 404 with PDL's error body
otherwise; `rate_limit_once` answers the next request 429 with Retry-After. It records every
request (path, query, headers) so tests can check what was asked and how often.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

KEY = "pdl-test-key-5f2c9a"
PEOPLE: dict[str, dict[str, Any]] = {
    "jose@example.com": {
        "full_name": "josé müller", "first_name": "josé", "last_name": "müller",
        "linkedin_url": "linkedin.com/in/jose-muller", "job_title": "head of growth",
        "job_title_levels": ["director"], "job_company_name": "café zoë", "job_company_size": "51-200",
        "job_company_industry": "food & beverages", "location_name": "lyon, auvergne-rhône-alpes, france",
    },
    "renee@example.org": {
        "full_name": "renée dupont", "linkedin_url": "linkedin.com/in/renee-dupont",
        "job_title": "cto", "job_company_name": "société générale", "job_company_size": "10001+",
        "location_name": "paris, île-de-france, france",
    },
}


class FakePDL:
    def __init__(self, people: dict[str, dict[str, Any]] | None = None, key: str = KEY):
        self.people, self.key = dict(PEOPLE if people is None else people), key
        self.requests: list[dict[str, Any]] = []
        self.rate_limits = 0  # answer this many next requests with 429
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def rate_limit_once(self) -> None:
        self.rate_limits += 1

    def lookups(self, email: str | None = None) -> int:
        return sum(1 for r in self.requests if email is None or r["query"].get("email") == [email])

    def _answer(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, dict, dict]:
        if path != "/v5/person/enrich":
            return 404, {}, {"status": 404, "error": {"type": "not_found", "message": "no such endpoint"}}
        if headers.get("x-api-key") != self.key:
            return 401, {}, {"status": 401, "error": {"type": "authentication_error",
                                                      "message": "Invalid or missing API key"}}
        if self.rate_limits:
            self.rate_limits -= 1
            return 429, {"Retry-After": "0"}, {"status": 429, "error": {"type": "rate_limit_error",
                                                                         "message": "Too many requests"}}
        email = (query.get("email") or [""])[0].lower()
        if email not in self.people:
            return 404, {}, {"status": 404, "error": {"type": "not_found",
                                                      "message": "No records were found matching your request"}}
        data = {"id": f"pdl-{len(email)}", "work_email": email, **self.people[email]}
        return 200, {}, {"status": 200, "likelihood": 9, "data": data}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append({"path": parts.path, "query": query, "headers": headers})
                status, extra, body = fake._answer(parts.path, query, headers)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> FakePDL:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pdl_server(settings, loopback_allowed) -> Iterator[FakePDL]:
    """The fake provider, configured as AGENT_ENRICHMENT_URL with its key, unpaced."""
    with FakePDL() as server:
        settings.AGENT_ENRICHMENT_URL = server.url
        settings.AGENT_ENRICHMENT_KEY = KEY
        settings.AGENT_ENRICHMENT_RATE = 1000.0
        yield server
