"""Which peers are trusted proxies, and what they say about the original request.

``OKNO_TRUSTED_PROXIES`` names them (addresses or networks, comma-separated; ``*`` = any). Only
a trusted peer's ``X-Forwarded-Proto`` and ``X-Forwarded-For`` are believed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(spec: str) -> tuple[Network, ...]:
    """``OKNO_TRUSTED_PROXIES``: comma-separated addresses or networks; ``*`` trusts any peer."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if "*" in parts:
        return (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
    return tuple(ipaddress.ip_network(p, strict=False) for p in parts)


def _peer_trusted(scope: Mapping[str, Any], networks: Iterable[Network]) -> bool:
    client = scope.get("client")
    return bool(client) and _address_in(client[0], networks)


def is_https(scope: Mapping[str, Any], networks: tuple[Network, ...]) -> bool:
    """The browser reached okno over TLS: directly, or through a trusted proxy that says so."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    if not networks or not _peer_trusted(scope, networks):
        return False
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-proto":
            return value.split(b",")[0].strip().lower() == b"https"
    return False


def client_ip(scope: Mapping[str, Any], networks: tuple[Network, ...]) -> str:
    """The address of the browser: the peer, or (behind trusted proxies) the nearest untrusted
    address in ``X-Forwarded-For``."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not networks or not _peer_trusted(scope, networks):
        return peer
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
            for hop in reversed(hops):
                if not _address_in(hop, networks):
                    return hop
            return hops[0] if hops else peer
    return peer


def _address_in(text: str, networks: Iterable[Network]) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return any(address.version == net.version and address in net for net in networks)
