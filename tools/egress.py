"""One egress policy for every tool that touches the network.

Private, loopback, link-local, reserved and cloud-metadata addresses are refused unless
allow-listed (AGENT_EGRESS_ALLOWLIST: hosts or CIDRs). `resolve` looks a host up once and
checks every address; connections go to those checked addresses (tools.pinning), so a name
that answers differently on a second lookup (DNS rebinding) cannot slip past the check.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .config import django_setting
from .errors import EgressDenied, TransientToolError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]  # (host, port) -> the addresses it answers, in order
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "169.254.169.254", "fd00:ec2::254"})


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's answer (getaddrinfo), looked up at call time."""
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _address(text: str) -> IPAddress:
    ip: IPAddress = ipaddress.ip_address(text.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return ip


@dataclass(frozen=True)
class EgressPolicy:
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False, repr=False)

    @classmethod
    def from_entries(cls, entries: list[str], resolver: Resolver | None = None) -> EgressPolicy:
        hosts, networks = set(), []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks), resolver or system_resolver)

    @classmethod
    def from_settings(cls) -> EgressPolicy:
        return cls.from_entries(list(django_setting("AGENT_EGRESS_ALLOWLIST") or []))

    def _ip_allowed(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.allowed_networks if net.version == ip.version)

    def check_target(self, url: str) -> tuple[str, int]:
        """The (host, port) of an http(s) URL, without resolving it; EgressDenied for anything else."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"}:
            raise EgressDenied(f"only http and https URLs may be fetched, not {url!r}")
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise EgressDenied(f"URL has no host: {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise EgressDenied(f"URL has an invalid port: {url!r}") from None
        return host, port

    def check_url(self, url: str) -> tuple[IPAddress, ...]:
        """Resolve and check `url`'s host; the addresses it may be reached at."""
        return self.resolve(*self.check_target(url))

    def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        """Look `host` up once and check every address it answers; connect only to what this returns.

        EgressDenied if any address is refused (one bad answer spoils the name); a name that
        does not resolve is a TransientToolError (resolvers fail and recover).
        """
        host = host.lower().rstrip(".")
        if host in METADATA_HOSTS and host not in self.allowed_hosts:
            raise EgressDenied(f"{host} is a cloud metadata address and may not be reached")
        try:
            addresses = tuple(_address(text) for text in self.resolver(host, port))
        except (socket.gaierror, UnicodeError) as exc:
            raise TransientToolError(f"cannot resolve host {host!r}: {getattr(exc, 'strerror', None) or exc}") from None
        if not addresses:
            raise TransientToolError(f"cannot resolve host {host!r}: no addresses")
        if host in self.allowed_hosts:
            return addresses
        for ip in addresses:
            if not ip.is_global and not self._ip_allowed(ip):
                raise EgressDenied(
                    f"{host} resolves to {ip}, a private, loopback or reserved address;"
                    " add it to AGENT_EGRESS_ALLOWLIST to allow it"
                )
        return addresses
