"""The egress policy resolves once, checks every address, and connections go to what it checked.

DNS rebinding is played by a resolver whose answer changes between lookups: 127.0.0.2
(allow-listed) first, 127.0.0.3 (internal, refused) afterwards.
"""
from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes.rebinding import ALLOWED, INTERNAL, RebindingDNS, Recorder, twin_servers
from tools.egress import EgressPolicy
from tools.errors import EgressDenied, TransientToolError
from tools.pinning import pinned_session


@pytest.fixture
def twins() -> Iterator[tuple[Recorder, Recorder]]:
    allowed, internal = twin_servers()
    yield allowed, internal
    allowed.close()
    internal.close()


def policy(dns: Any, *entries: str) -> EgressPolicy:
    return EgressPolicy.from_entries(list(entries or [f"{ALLOWED}/32"]), resolver=dns)


def test_resolve_looks_up_once_and_returns_the_checked_addresses() -> None:
    dns = RebindingDNS("rebind.test", [ALLOWED, INTERNAL])
    assert [str(ip) for ip in policy(dns).resolve("rebind.test", 80)] == [ALLOWED]
    assert dns.lookups == [ALLOWED]


def test_one_refused_address_refuses_the_name() -> None:
    def both(host: str, port: int) -> list[str]:  # a name answering an allowed and an internal address
        return [ALLOWED, INTERNAL]

    with pytest.raises(EgressDenied, match=r"rebind\.test resolves to 127\.0\.0\.3"):
        policy(both).resolve("rebind.test", 80)


def test_metadata_names_are_refused_without_a_lookup_and_mapped_addresses_are_unwrapped() -> None:
    dns = RebindingDNS("rebind.test", ["::ffff:127.0.0.3"])
    with pytest.raises(EgressDenied, match="cloud metadata"):
        policy(dns).check_url("http://metadata.google.internal/computeMetadata/v1/")
    with pytest.raises(EgressDenied, match=r"resolves to 127\.0\.0\.3"):
        policy(dns).check_url("http://rebind.test/")


def test_an_allow_listed_name_is_still_resolved_once_for_pinning() -> None:
    dns = RebindingDNS("intranet.test", [INTERNAL])
    assert [str(ip) for ip in policy(dns, "intranet.test").resolve("INTRANET.test.", 443)] == [INTERNAL]
    assert dns.lookups == [INTERNAL]


def test_a_name_that_does_not_resolve_is_transient_and_a_refused_address_is_not() -> None:
    with pytest.raises(TransientToolError, match=r"cannot resolve host 'nowhere\.invalid'"):
        EgressPolicy().check_url("http://nowhere.invalid/")
    with pytest.raises(EgressDenied):
        EgressPolicy().check_url("http://127.0.0.3/")


def test_the_pinned_session_connects_to_the_checked_address_with_the_hosts_name(twins) -> None:
    allowed, internal = twins
    dns = RebindingDNS("rebind.test", [ALLOWED, INTERNAL])
    with pinned_session(policy(dns)) as session:
        answer = session.get(f"http://rebind.test:{allowed.port}/secret", timeout=5)
        assert answer.status_code == 200 and ALLOWED in answer.text
        # The server closed that connection (HTTP/1.0): the next one is looked up, and refused.
        with pytest.raises(EgressDenied, match=r"127\.0\.0\.3"):
            session.get(f"http://rebind.test:{allowed.port}/secret", timeout=5)
    assert dns.lookups == [ALLOWED, INTERNAL]
    assert [(r["path"], r["host"]) for r in allowed.requests] == [("/secret", f"rebind.test:{allowed.port}")]
    assert internal.requests == []


def test_the_pinned_session_uses_no_proxy_from_the_environment(twins, monkeypatch) -> None:
    allowed, internal = twins
    monkeypatch.setenv("HTTP_PROXY", internal.url)  # a proxy would resolve names out of the policy's sight
    dns = RebindingDNS("rebind.test", [ALLOWED])
    with pinned_session(policy(dns)) as session:
        assert session.get(f"http://rebind.test:{allowed.port}/", timeout=5).status_code == 200
        with pytest.raises(requests.exceptions.InvalidSchema, match="proxies are not allowed"):
            session.get(f"http://rebind.test:{allowed.port}/", proxies={"http": internal.url}, timeout=5)
    assert internal.requests == []


# --- TLS: SNI and the certificate are checked against the name, the socket goes to the address ---


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (it is its own CA), as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_keeps_sni_and_certificate_checks_on_the_hostname(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, "shop.test")
    seen: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen["host"] = self.headers["Host"]
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)

    def note_sni(sock: Any, name: str | None, context: Any) -> None:
        seen["sni"] = name

    tls.sni_callback = note_sni
    server = ThreadingHTTPServer((ALLOWED, 0), Handler)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dns = RebindingDNS("shop.test", [ALLOWED])
        with pinned_session(policy(dns)) as session:
            answer = session.get(f"https://shop.test:{server.server_port}/", verify=str(cert), timeout=5)
        assert answer.text == "ok"
        assert seen == {"sni": "shop.test", "host": f"shop.test:{server.server_port}"}
        other = RebindingDNS("other.test", [ALLOWED])  # same address, a name the certificate does not cover
        mismatch = pytest.raises(requests.exceptions.SSLError, match=r"other\.test")
        with pinned_session(policy(other)) as session, mismatch:
            session.get(f"https://other.test:{server.server_port}/", verify=str(cert), timeout=5)
    finally:
        server.shutdown()
        server.server_close()


def test_google_sessions_connect_to_the_checked_address_too(twins, settings) -> None:
    from tools.base import ToolContext
    from tools.google import GoogleSession

    allowed, internal = twins
    settings.GOOGLE_API_BASE_URL = f"http://rebind.test:{allowed.port}"
    dns = RebindingDNS("rebind.test", [ALLOWED, INTERNAL])
    ctx = ToolContext(task_id="t", credentials={"google": {"token": "ya29.token"}}, egress=policy(dns))
    with GoogleSession(ctx, "calendar") as google:
        assert google.request("GET", "/calendar/v3/users/me").status == 200
        with pytest.raises(EgressDenied, match=r"127\.0\.0\.3"):
            google.request("GET", "/calendar/v3/users/me")
    assert allowed.requests[0]["headers"]["authorization"] == "Bearer ya29.token"
    assert internal.requests == []
