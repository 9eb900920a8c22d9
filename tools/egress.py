"""One egress policy for every tool that touches the network.

Private, loopback, link-local, reserved and cloud-metadata addresses are refused unless
allow-listed (AGENT_EGRESS_ALLOWLIST: hosts or CIDRs). Checked after DNS resolution, so
a public name that resolves to 127.0.0.1 is refused too; callers check every redirect.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import EgressDenied

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "169.254.169.254", "fd00:ec2::254"})


@dataclass(frozen=True)
class EgressPolicy:
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_entries(cls, entries: list[str]) -> EgressPolicy:
        hosts, networks = set(), []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    @classmethod
    def from_settings(cls) -> EgressPolicy:
        from django.conf import settings  # read lazily: tools also run outside Django

        return cls.from_entries(list(getattr(settings, "AGENT_EGRESS_ALLOWLIST", [])))

    def _ip_allowed(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.allowed_networks if net.version == ip.version)

    def check_url(self, url: str) -> None:
        """Raise EgressDenied unless `url` is http(s) and every address it resolves to may be reached."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"}:
            raise EgressDenied(f"only http and https URLs may be fetched, not {url!r}")
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise EgressDenied(f"URL has no host: {url!r}")
        self.check_host(host, parts.port or (443 if parts.scheme == "https" else 80))

    def check_host(self, host: str, port: int) -> None:
        host = host.lower().rstrip(".")
        if host in self.allowed_hosts:
            return
        if host in METADATA_HOSTS:
            raise EgressDenied(f"{host} is a cloud metadata address and may not be reached")
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise EgressDenied(f"cannot resolve host {host!r}: {exc.strerror}") from None
        for info in infos:
            ip: IPAddress = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
                ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
            if not ip.is_global and not self._ip_allowed(ip):
                raise EgressDenied(
                    f"{host} resolves to {ip}, a private, loopback or reserved address;"
                    " add it to AGENT_EGRESS_ALLOWLIST to allow it"
                )
