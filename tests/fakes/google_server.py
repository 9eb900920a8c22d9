"""A local stand-in for Google's APIs, for tests: a real HTTP server on 127.0.0.1.

It answers the documented endpoints the tools use (OAuth token refresh and
authorization-code exchange, Calendar v3
events, Drive v3 files and multipart upload, Gmail users.messages.send) from in-memory
state, checks Bearer tokens like Google does (401 for unknown or revoked ones) and
records every request. It must never be reachable beyond loopback.

Use the `google_server` fixture (it points GOOGLE_API_BASE_URL and GMAIL_API_BASE_URL
at the server) and `google_server.credentials()` for a context's credentials["google"].
"""
from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

CLIENT_ID = "fake-client-id.apps.googleusercontent.com"
CLIENT_SECRET = "fake-client-secret-do-not-log"


class Reply(Exception):
    """Raised by a route to answer with a status and a JSON body (Google's error shape)."""

    def __init__(self, status: int, message: str = "", body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"error": {"code": status, "message": message,
                                                           "errors": [{"message": message}]}}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def bearer(self) -> str:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme == "Bearer" else ""


@dataclass
class FakeGoogle:
    url: str = ""
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    events: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # calendar id -> id -> event
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)
    sent: list[email.message.EmailMessage] = field(default_factory=list)  # Gmail messages, parsed
    requests: list[Recorded] = field(default_factory=list)
    token_grants: list[dict[str, str]] = field(default_factory=list)  # what POST /token was given
    codes: dict[str, str] = field(default_factory=dict)  # authorization code -> the scope it grants
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue_access_token(self) -> str:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.access_tokens.add(token)
        return token

    def credentials(self, *, expired: bool = False, email_address: str = "owner@example.com") -> dict[str, Any]:
        """A credentials["google"] dict; `expired` gives a token past its expiry that the server refuses."""
        refresh_token = "1//fake-refresh-" + secrets.token_urlsafe(24)
        self.refresh_tokens.add(refresh_token)
        now = dt.datetime.now(dt.UTC)
        if expired:
            token, expiry = "ya29.stale-" + secrets.token_urlsafe(24), now - dt.timedelta(minutes=5)
        else:
            token, expiry = self.issue_access_token(), now + dt.timedelta(hours=1)
        return {"token": token, "refresh_token": refresh_token, "token_uri": f"{self.url}/token",
                "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "expiry": expiry.isoformat(),
                "scopes": ["https://www.googleapis.com/auth/calendar", "https://www.googleapis.com/auth/drive"],
                "email": email_address}

    def authorization_code(self, scope: str = "https://www.googleapis.com/auth/calendar") -> str:
        """A one-time code, as Google's consent screen would put on the redirect back to the app."""
        code = "4/fake-code-" + secrets.token_urlsafe(16)
        self.codes[code] = scope
        return code

    def revoke(self, *tokens: str) -> None:
        """Revoke access or refresh tokens, as a user removing the app's access would."""
        for token in tokens:
            self.access_tokens.discard(token)
            self.refresh_tokens.discard(token)

    def api_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path != "/token"]

    # OAuth ---------------------------------------------------------------------------
    def token(self, form: dict[str, str]) -> dict[str, Any]:
        self.token_grants.append(form)
        if form.get("grant_type") not in ("refresh_token", "authorization_code"):
            raise Reply(400, body={"error": "unsupported_grant_type"})
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            raise Reply(401, body={"error": "invalid_client", "error_description": "The OAuth client was not found."})
        if form["grant_type"] == "authorization_code":
            return self._exchange_code(form)
        if form.get("refresh_token") not in self.refresh_tokens:
            raise Reply(400, body={"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        answer = {"access_token": self.issue_access_token(), "expires_in": 3599, "token_type": "Bearer"}
        if form.get("scope"):
            answer["scope"] = form["scope"]
        return answer

    def _exchange_code(self, form: dict[str, str]) -> dict[str, Any]:
        scope = self.codes.pop(form.get("code", ""), None)  # a code works once
        if scope is None or not form.get("redirect_uri"):
            raise Reply(400, body={"error": "invalid_grant", "error_description": "Malformed auth code."})
        refresh_token = "1//fake-refresh-" + secrets.token_urlsafe(24)
        self.refresh_tokens.add(refresh_token)
        return {"access_token": self.issue_access_token(), "expires_in": 3599, "refresh_token": refresh_token,
                "scope": scope, "token_type": "Bearer"}

    # Calendar v3 ---------------------------------------------------------------------
    def list_events(self, calendar: str, query: dict[str, str]) -> dict[str, Any]:
        items = [e for e in self.events.get(calendar, {}).values() if e.get("status") != "cancelled"]
        if "timeMin" in query:
            items = [e for e in items if _moment(e["end"]) > _parse(query["timeMin"])]
        if "timeMax" in query:
            items = [e for e in items if _moment(e["start"]) < _parse(query["timeMax"])]
        if "q" in query:
            needle = query["q"].lower()
            items = [e for e in items if any(needle in str(e.get(k, "")).lower()
                                             for k in ("summary", "description", "location"))]
        items.sort(key=lambda e: _moment(e["start"]))
        start, size = int(query.get("pageToken", 0)), int(query.get("maxResults", 250))
        page: dict[str, Any] = {"kind": "calendar#events", "items": items[start:start + size]}
        if start + size < len(items):
            page["nextPageToken"] = str(start + size)
        return page

    def create_event(self, calendar: str, body: dict[str, Any]) -> dict[str, Any]:
        if "start" not in body or "end" not in body:
            raise Reply(400, "Missing end time." if "start" in body else "Missing start time.")
        if _moment(body["end"]) <= _moment(body["start"]):
            raise Reply(400, "The specified time range is empty.")
        events = self.events.setdefault(calendar, {})
        event_id = body.get("id") or uuid.uuid4().hex
        if event_id in events:
            raise Reply(409, "The requested identifier already exists.")
        now = dt.datetime.now(dt.UTC).isoformat()
        event = {**body, "id": event_id, "kind": "calendar#event", "status": "confirmed", "created": now,
                 "updated": now, "htmlLink": f"{self.url}/calendar/event?eid={event_id}"}
        events[event_id] = event
        return event

    def event(self, calendar: str, event_id: str) -> dict[str, Any]:
        event = self.events.get(calendar, {}).get(event_id)
        if event is None:
            raise Reply(404, "Not Found")
        return event

    def patch_event(self, calendar: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        event = self.event(calendar, event_id)
        for key, value in body.items():
            if value is None:
                event.pop(key, None)
            else:
                event[key] = value
        event["updated"] = dt.datetime.now(dt.UTC).isoformat()
        return event

    def delete_event(self, calendar: str, event_id: str) -> None:
        event = self.event(calendar, event_id)
        if event["status"] == "cancelled":
            raise Reply(410, "Resource has been deleted")
        event["status"] = "cancelled"

    # Drive v3 ------------------------------------------------------------------------
    def list_files(self, query: dict[str, str]) -> dict[str, Any]:
        matches = [f for f in self.files.values() if _drive_match(f, query.get("q", ""))]
        size = int(query.get("pageSize", 100))
        return {"kind": "drive#fileList", "files": [_public(f) for f in matches[:size]]}

    def upload(self, query: dict[str, str], content_type: str, body: bytes) -> dict[str, Any]:
        if query.get("uploadType") != "multipart":
            raise Reply(400, "Invalid upload type")
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        if not content_type.startswith("multipart/related") or not match:
            raise Reply(400, "Content-Type must be multipart/related with a boundary")
        metadata_part, media_part = _parts(body, match.group(1).encode())
        metadata = json.loads(metadata_part[1])
        file_id = "1" + secrets.token_urlsafe(20).replace("-", "x").replace("_", "y")
        now = dt.datetime.now(dt.UTC).isoformat()
        self.files[file_id] = {
            "kind": "drive#file", "id": file_id, "name": metadata.get("name", "Untitled"),
            "mimeType": metadata.get("mimeType") or media_part[0].get("content-type", "application/octet-stream"),
            "parents": metadata.get("parents", ["root"]), "appProperties": metadata.get("appProperties", {}),
            "description": metadata.get("description"), "size": str(len(media_part[1])), "trashed": False,
            "createdTime": now, "modifiedTime": now,
        }
        self.contents[file_id] = media_part[1]
        return _public(self.files[file_id])

    def file(self, file_id: str) -> dict[str, Any]:
        if file_id not in self.files:
            raise Reply(404, f"File not found: {file_id}.")
        return self.files[file_id]

    def add_file(self, name: str, content: bytes, mime_type: str = "application/octet-stream") -> str:
        """Put a file into the fake Drive directly (as if the user had it already)."""
        file_id = "1" + secrets.token_hex(12)
        self.files[file_id] = {"kind": "drive#file", "id": file_id, "name": name, "mimeType": mime_type,
                               "size": str(len(content)), "parents": ["root"], "appProperties": {}, "trashed": False}
        self.contents[file_id] = content
        return file_id

    # Gmail -----------------------------------------------------------------------------
    def gmail_send(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("raw")
        if not isinstance(raw, str):
            raise Reply(400, "'raw' RFC822 payload message string or uploading message via /upload/* URL required")
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        self.sent.append(email.message_from_bytes(data, policy=email.policy.default))
        message_id = secrets.token_hex(8)
        return {"id": message_id, "threadId": message_id, "labelIds": ["SENT"]}


def _parse(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _moment(when: dict[str, str]) -> dt.datetime:
    return _parse(when["dateTime"]) if "dateTime" in when else _parse(when["date"] + "T00:00:00+00:00")


def _public(file: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in file.items() if k not in ("appProperties", "trashed") and v is not None}


APP_PROPERTY = re.compile(r"appProperties has \{ key='([^']*)' and value='([^']*)' \}")
CLAUSES = [
    (re.compile(r"name contains '([^']*)'"), lambda f, m: m.group(1) in f["name"]),
    (re.compile(r"name = '([^']*)'"), lambda f, m: f["name"] == m.group(1)),
    (re.compile(r"mimeType = '([^']*)'"), lambda f, m: f["mimeType"] == m.group(1)),
    (re.compile(r"trashed = (true|false)"), lambda f, m: f["trashed"] == (m.group(1) == "true")),
    (re.compile(r"'([^']*)' in parents"), lambda f, m: m.group(1) in f.get("parents", [])),
]


def _drive_match(file: dict[str, Any], q: str) -> bool:
    """The subset of Drive's query language the tools and tests use; anything else is a 400."""
    for key, value in APP_PROPERTY.findall(q):
        if file.get("appProperties", {}).get(key) != value:
            return False
    rest = APP_PROPERTY.sub("", q)
    for clause in (c.strip() for c in re.split(r"\band\b", rest) if c.strip()):
        for pattern, test in CLAUSES:
            if m := pattern.fullmatch(clause):
                if not test(file, m):
                    return False
                break
        else:
            raise Reply(400, f"Invalid Value: unsupported query clause {clause!r}")
    return True


def _parts(body: bytes, boundary: bytes) -> list[tuple[dict[str, str], bytes]]:
    """multipart/related parts as (headers, content), byte-exact (RFC 2046)."""
    delimiter = b"\r\n--" + boundary
    chunks = (b"\r\n" + body).split(delimiter)[1:]
    parts = []
    for chunk in chunks:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk[2:].partition(b"\r\n\r\n")
        headers = dict(line.decode().split(":", 1) for line in head.split(b"\r\n") if b":" in line)
        parts.append(({k.strip().lower(): v.strip() for k, v in headers.items()}, content))
    if len(parts) != 2:
        raise Reply(400, "Multipart upload needs a metadata part and a media part")
    return parts


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

    def _handle(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with fake.lock:
            fake.requests.append(Recorded(self.command, parts.path, parse_qs(parts.query),
                                         {k.lower(): v for k, v in self.headers.items()}, body))
            try:
                if parts.path == "/token" and self.command == "POST":
                    result: Any = fake.token({k: v[-1] for k, v in parse_qs(body.decode()).items()})
                else:
                    self._authorize()
                    result = self._route(parts.path, query, body)
            except Reply as reply:
                return self._send(reply.status, reply.body)
        if isinstance(result, tuple):
            return self._send_bytes(200, *result)
        return self._send(204 if result is None else 200, result)

    def _authorize(self) -> None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.server.fake.access_tokens:
            raise Reply(401, "Request had invalid authentication credentials.")

    def _route(self, path: str, query: dict[str, str], body: bytes) -> Any:
        fake, method = self.server.fake, self.command
        data = json.loads(body) if body and self.headers.get("Content-Type", "").startswith("application/json") else {}
        if m := re.fullmatch(r"/calendar/v3/calendars/([^/]+)/events(?:/([^/]+))?", path):
            calendar, event_id = unquote(m.group(1)), m.group(2) and unquote(m.group(2))
            if event_id is None:
                return fake.list_events(calendar, query) if method == "GET" else fake.create_event(calendar, data)
            return {"GET": lambda: fake.event(calendar, event_id),
                    "PATCH": lambda: fake.patch_event(calendar, event_id, data),
                    "DELETE": lambda: fake.delete_event(calendar, event_id)}[method]()
        if path == "/drive/v3/files" and method == "GET":
            return fake.list_files(query)
        if path == "/upload/drive/v3/files" and method == "POST":
            return fake.upload(query, self.headers.get("Content-Type", ""), body)
        if m := re.fullmatch(r"/drive/v3/files/([^/]+)", path):
            file_id = unquote(m.group(1))
            if method == "DELETE":
                fake.file(file_id)
                del fake.files[file_id]
                return None
            if query.get("alt") == "media":
                return fake.contents[fake.file(file_id)["id"]], fake.file(file_id)["mimeType"]
            return _public(fake.file(file_id))
        if path == "/gmail/v1/users/me/messages/send" and method == "POST":
            return fake.gmail_send(data)
        raise Reply(404, f"no such endpoint in the fake: {method} {path}")

    def _send(self, status: int, payload: Any) -> None:
        self._send_bytes(status, b"" if payload is None else json.dumps(payload).encode(), "application/json")

    def _send_bytes(self, status: int, content: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGoogle


@pytest.fixture
def google_server(settings):  # pytest-django's settings fixture
    """A running fake Google on 127.0.0.1, with the tools' API base URLs pointed at it."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeGoogle(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.GOOGLE_API_BASE_URL = server.fake.url
    settings.GMAIL_API_BASE_URL = server.fake.url
    yield server.fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
