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
import contextlib
import ipaddress
import socket
import typing
import urllib.request
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
        addresses = await self.resolve(host, port, timeout)
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

    @staticmethod
    async def resolve(host: str, port: int, timeout: float | None) -> list[str]:
        """``host``'s addresses, with lookup failures as httpcore's connection errors."""
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


# httpcore's errors as httpx raises them (the client's callers catch httpx's classes)
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout), (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout), (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError), (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError), (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError), (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol), (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.NetworkError, httpx.NetworkError),
)  # fmt: skip


@contextlib.contextmanager
def _as_httpx_errors(request: httpx.Request) -> typing.Iterator[None]:
    try:
        yield
    except Exception as exc:
        for theirs, ours in _ERRORS:
            if isinstance(exc, theirs):
                raise ours(str(exc), request=request) from exc
        raise


class _Body(httpx.AsyncByteStream):
    """A response body read from httpcore's stream, with httpcore's errors as httpx's."""

    def __init__(self, stream: typing.AsyncIterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> typing.AsyncIterator[bytes]:
        with _as_httpx_errors(self._request):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


def environment_proxy(url: httpx.URL) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``,
    lower case too), or None when there is none or ``NO_PROXY`` exempts the host."""
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass_environment(url.host, proxies):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport (public APIs of httpx and httpcore only) whose connections go through
    :class:`GuardedBackend`.

    Proxies: with ``trust_env`` (the default) a request the environment sends through a proxy
    (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, unless ``NO_PROXY`` exempts its host) goes
    there. The proxy is the admin's own machine, so its address is not held to the policy; the
    *destination* is: okno resolves the target's host and refuses the call when an address is
    not public, before anything is sent. The proxy then resolves the name again itself, so a DNS
    answer that changes between the two lookups is out of okno's reach — the price of a proxy
    (``docs/outbound-urls.md``). ``socks5://`` proxies are not supported (refused as such)."""

    def __init__(
        self, limits: httpx.Limits | None = None, *, network: httpcore.AsyncNetworkBackend | None = None, trust_env: bool = True
    ) -> None:
        self._limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
        self._ssl = httpx.create_ssl_context()
        self._network = network
        self._trust_env = trust_env
        self._direct = httpcore.AsyncConnectionPool(ssl_context=self._ssl, network_backend=GuardedBackend(network), **self._pool_limits())
        self._proxied: dict[str, httpcore.AsyncHTTPProxy] = {}

    def _pool_limits(self) -> dict[str, typing.Any]:
        limits = self._limits
        return {
            "max_connections": limits.max_connections, "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
        }  # fmt: skip

    async def _pool_for(self, url: httpx.URL) -> httpcore.AsyncConnectionPool:
        proxy = environment_proxy(url) if self._trust_env else None
        if proxy is None:
            return self._direct
        if not proxy.startswith(("http://", "https://")):
            raise UrlRefused(f"the proxy {proxy.split('://', 1)[0]}:// is not supported: okno uses http:// and https:// proxies")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await GuardedBackend.resolve(url.host, port, 10.0)  # the destination, checked before the proxy sees it
        if (refused := refusal_for(url.host, addresses)) is not None:
            raise UrlRefused(refused)
        if proxy not in self._proxied:
            self._proxied[proxy] = httpcore.AsyncHTTPProxy(
                proxy_url=proxy, ssl_context=self._ssl, network_backend=self._network or httpcore.AnyIOBackend(), **self._pool_limits()
            )
        return self._proxied[proxy]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        pool = await self._pool_for(request.url)
        url = request.url
        sent = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors(request):
            answer = await pool.handle_async_request(sent)
        assert isinstance(answer.stream, typing.AsyncIterable)
        return httpx.Response(status_code=answer.status, headers=answer.headers, stream=_Body(answer.stream, request), extensions=answer.extensions)

    async def aclose(self) -> None:
        await self._direct.aclose()
        for pool in self._proxied.values():
            await pool.aclose()


class GuardedClient(httpx.AsyncClient):
    """okno's client while the policy is on: what :func:`is_guarded` recognises."""


def is_guarded(http: httpx.AsyncClient) -> bool:
    """Whether ``http`` enforces the policy (an adapter that opens its own sockets, e.g. to a mail
    server, then holds them to it too)."""
    return isinstance(http, GuardedClient)


def outbound_client(urls: OutboundUrls, *, timeout: float) -> httpx.AsyncClient:
    """The client okno calls providers, integrations and webhooks with (never follows redirects)."""
    if urls.allow_private:
        return httpx.AsyncClient(timeout=timeout, follow_redirects=False)
    return GuardedClient(timeout=timeout, follow_redirects=False, transport=GuardedTransport())
