"""Which addresses okno may call on a user's behalf (the outbound URL policy, against SSRF).

Every URL an admin or a provider can point okno at (the API channel's ``outbound_url``, an
automation rule's webhook, a messenger adapter's ``api_base``, the upload and media URLs a
provider answers with) is called through :func:`outbound_client`. Unless private addresses are
allowed (``OKNO_ALLOW_PRIVATE_URLS=true``), its connections go through :class:`GuardedBackend`,
which resolves the host once, refuses the connection when any address is loopback, link-local
(cloud metadata at 169.254.169.254), private, shared (CGNAT), multicast, unspecified, reserved or
otherwise not globally routable, and connects to the address it checked — so a DNS answer that
changes between a check and the connection (rebinding) never reaches an internal address. The
request keeps its host name: the ``Host`` header and TLS SNI / certificate checks use it.

Settings are checked once more when saved (:meth:`OutboundUrls.refusal`), so an admin hears at
once why a URL will not work; a name that does not resolve at that moment is left to the
connect-time check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOW_SETTING = "OKNO_ALLOW_PRIVATE_URLS"
SAVE_RESOLVE_SECONDS = 3.0  # a setting's host is looked up at most this long when it is saved
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT (and some metadata services)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # an IPv4 address behind a NAT64 gateway


class CalledUrl:
    """``Annotated[str, CALLED_URL]`` marks a setting whose URL okno calls: it is checked against
    the policy when saved (a channel's ``api_base``, the API channel's ``outbound_url``)."""


CALLED_URL = CalledUrl()


class UrlRefused(Exception):
    """The outbound URL policy refused a call: ``reason`` says which address and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def address_category(address: IPAddress) -> str | None:
    """Why okno does not call ``address`` (``"loopback"``, ``"private"``…), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_category(embedded)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "shared (carrier-grade NAT)"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal is its own answer). Tests replace it."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def refusal_for(host: str, addresses: list[str]) -> str | None:
    """Why a call to ``host`` at ``addresses`` is refused (the first bad address), or None."""
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        category = address_category(address)
        if category is not None:
            article = "an" if category[0] in "aeiou" else "a"
            where = f"{host} is" if host.strip("[]") == text else f"{host} resolves to {text},"
            note = " (where cloud metadata services answer)" if category == "link-local" else ""
            return f"{where} {article} {category} address{note}; okno calls only public addresses unless {ALLOW_SETTING}=true"
    return None


@dataclass(frozen=True)
class OutboundUrls:
    """The policy as configured: ``allow_private`` lifts it (on-premise CRMs, the demo, tests)."""

    allow_private: bool = False

    async def refusal(self, url: str) -> str | None:
        """Why a URL setting would be refused, checked when it is saved; None when it may be kept."""
        if self.allow_private:
            return None
        parts = urlsplit(url)
        if not parts.hostname:
            return "has no host"
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            async with asyncio.timeout(SAVE_RESOLVE_SECONDS):
                addresses = await resolve_host(parts.hostname, port)
        except (OSError, TimeoutError, ValueError):
            return None  # unresolvable now: the check at every connection decides
        return refusal_for(parts.hostname, addresses)

    def client(self, *, timeout: float) -> httpx.AsyncClient:
        return outbound_client(self, timeout=timeout)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the policy at connect time: resolve, check, connect to the
    checked address. TLS is started by httpcore afterwards with the request's host name as SNI."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        refused = refusal_for(host, addresses)
        if refused is not None:
            raise UrlRefused(refused)
        failure: Exception | None = None
        for address in addresses:  # each one checked above; the first that answers wins
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} has no address")

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve_host(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout}s") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        return addresses

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise UrlRefused("unix sockets are not outbound URLs")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose connections go through :class:`GuardedBackend`.

    Environment proxies are not used: a proxy would resolve the host itself, out of the policy's
    reach (with ``OKNO_ALLOW_PRIVATE_URLS=true`` okno's client honours them as before)."""

    def __init__(self, limits: httpx.Limits | None = None, *, network: httpcore.AsyncNetworkBackend | None = None) -> None:
        super().__init__(trust_env=False)
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
        self._pool = httpcore.AsyncConnectionPool(  # httpx builds its pool without a backend hook
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(network),
        )


def outbound_client(urls: OutboundUrls, *, timeout: float) -> httpx.AsyncClient:
    """The client okno calls providers, integrations and webhooks with (never follows redirects)."""
    if urls.allow_private:
        return httpx.AsyncClient(timeout=timeout, follow_redirects=False)
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=GuardedTransport())
