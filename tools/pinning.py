"""requests sessions whose every connection goes to an address the egress policy just checked.

A new connection looks its host up once (EgressPolicy.resolve), refuses if any answer is
refused, and opens the socket to one of the checked addresses itself: nothing resolves the
name a second time, so DNS rebinding cannot swap an internal address in between. The Host
header, TLS SNI and certificate checks stay on the hostname, because urllib3's connection
still believes it talks to that host; only the socket is opened differently.

requests-hardened does the same in spirit but filters with a fixed private/loopback rule;
ours must apply AGENT_EGRESS_ALLOWLIST's hosts and networks and an injectable resolver, so
the connection classes are ours (urllib3's documented `_new_pool` hook installs them).
"""
from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.poolmanager import PoolManager
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from .egress import EgressPolicy, IPAddress


def _open(addresses: tuple[IPAddress, ...], port: int, conn: HTTPConnection) -> socket.socket:
    """Connect to the first checked address that answers, as urllib3's create_connection would."""
    error: OSError | None = None
    for ip in addresses:
        sock = socket.socket(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, socket.SOCK_STREAM)
        try:
            for option in conn.socket_options or ():
                sock.setsockopt(*option)
            if conn.timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(conn.timeout)  # type: ignore[arg-type]
            if conn.source_address:
                sock.bind(conn.source_address)
            sock.connect((str(ip), port))
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(f"no address to connect to for {conn.host}")


class _Pinned:
    """Mixin for urllib3 connections: the socket goes to an address EgressPolicy.resolve checked."""

    def __init__(self, *args: Any, egress: EgressPolicy, **kwargs: Any):
        self.egress = egress
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        conn: HTTPConnection = self  # type: ignore[assignment]
        addresses = self.egress.resolve(conn.host, conn.port)  # EgressDenied / TransientToolError pass through
        try:
            return _open(addresses, conn.port, conn)
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})") \
                from exc
        except OSError as exc:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc


class PinnedHTTPConnection(_Pinned, HTTPConnection):
    pass


class PinnedHTTPSConnection(_Pinned, HTTPSConnection):
    pass


class _PinnedPoolManager(PoolManager):
    def __init__(self, egress: EgressPolicy, **kwargs: Any):
        super().__init__(**kwargs)
        self.egress = egress

    def _new_pool(self, scheme: str, host: str, port: int,
                  request_context: dict[str, Any] | None = None) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.ConnectionCls = PinnedHTTPSConnection if scheme == "https" else PinnedHTTPConnection  # type: ignore[assignment]
        pool.conn_kw["egress"] = self.egress  # the pool hands conn_kw to every connection it opens
        return pool


class PinnedAdapter(HTTPAdapter):
    """A transport adapter whose connections are checked and pinned by `egress`; proxies refused."""

    def __init__(self, egress: EgressPolicy, **kwargs: Any):
        self.egress = egress
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        self._pool_connections, self._pool_maxsize, self._pool_block = connections, maxsize, block
        self.poolmanager = _PinnedPoolManager(self.egress, num_pools=connections, maxsize=maxsize, block=block,
                                              **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # A proxy would resolve the name itself, out of the policy's sight.
        raise requests.exceptions.InvalidSchema("proxies are not allowed under the egress policy")


def pinned_session(egress: EgressPolicy) -> requests.Session:
    """A requests Session for tools: every connection checked and pinned, nothing taken from the environment.

    trust_env is off so that HTTP(S)_PROXY cannot route around the policy and ~/.netrc
    cannot add credentials the caller did not pass.
    """
    session = requests.Session()
    session.trust_env = False
    adapter = PinnedAdapter(egress)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
