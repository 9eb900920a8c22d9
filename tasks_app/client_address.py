"""The client's address of a request: REMOTE_ADDR, or X-Forwarded-For only as written by a trusted proxy.

Throttles and the login guard key on this. A header a client wrote itself is never believed:
only hops appended by the proxies of AGENT_TRUSTED_PROXIES (IPs or CIDRs; default none) count.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_LENGTH = 64  # an address is at most 45 characters; anything longer is not one


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
    except ValueError as exc:
        raise ValueError(f"AGENT_TRUSTED_PROXIES: {exc} (expected IPs or CIDRs, comma-separated)") from None


def trusted_networks() -> tuple[Network, ...]:
    return _networks(tuple(getattr(settings, "AGENT_TRUSTED_PROXIES", ()) or ()))


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Any) -> str:
    """Walk X-Forwarded-For from the right past trusted proxies; the first other hop is the client."""
    remote = str(request.META.get("REMOTE_ADDR") or "")[:MAX_LENGTH]
    networks = trusted_networks()
    if not networks or not _trusted(remote, networks):
        return remote
    hops = [hop.strip() for hop in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop[:MAX_LENGTH]
    return hops[0][:MAX_LENGTH] if hops else remote
