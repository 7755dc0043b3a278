"""The outbound URL policy on its own: which addresses are refused, that a name is resolved once
and the checked address is the one connected to (Host and TLS SNI keep the name), and that a DNS
answer that changes after the check (rebinding) is refused at connect time. No database."""

from __future__ import annotations

import asyncio
import ipaddress

import httpcore
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from okno.kit.outbound_urls import GuardedTransport, OutboundUrls, UrlRefused, address_category, is_guarded
from tests.conftest import LoopbackServer
from tests.fake_dns import fake_dns

PUBLIC = "93.184.216.34"


@pytest.mark.parametrize(
    ("address", "category"),
    [
        ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
        ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
        ("10.0.0.5", "private"), ("172.16.3.4", "private"), ("192.168.1.1", "private"), ("fd00:ec2::254", "private"),
        ("100.100.100.200", "shared"), ("224.0.0.251", "multicast"), ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"), ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link-local"), ("2002:a00:1::1", "private"), ("64:ff9b::7f00:1", "loopback"),
        ("198.18.0.1", "private"), ("192.0.2.10", "private"), ("240.0.0.1", "private"),
    ],
)
def test_non_public_addresses_are_refused(address: str, category: str) -> None:
    found = address_category(ipaddress.ip_address(address))
    assert found is not None and found.startswith(category), (address, found)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4010:c02::64"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_category(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local"),
        ("https://10.20.30.40/crm", "10.20.30.40 is a private address"),
        ("http://[::1]:9/", "::1 is a loopback address"),
        ("http://crm.lan.example/hook", "crm.lan.example resolves to 127.0.0.1, a loopback address"),
        ("http://2130706433/", "2130706433 resolves to 127.0.0.1, a loopback address"),  # 127.0.0.1 as one number
    ],
)
async def test_settings_pointing_inside_are_refused_unless_allowed(monkeypatch: pytest.MonkeyPatch, url: str, said: str) -> None:
    fake_dns(monkeypatch, {"crm.lan.example": [["127.0.0.1"]]})
    refused = await OutboundUrls().refusal(url)
    assert refused is not None and said in refused and "OKNO_ALLOW_PRIVATE_URLS=true" in refused
    assert await OutboundUrls(allow_private=True).refusal(url) is None


async def test_a_setting_whose_name_does_not_resolve_now_is_left_to_the_connect_check(monkeypatch: pytest.MonkeyPatch) -> None:
    async def unreachable(host: str, port: int) -> list[str]:
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr("okno.kit.outbound_urls.resolve_host", unreachable)
    assert await OutboundUrls().refusal("https://crm.example/hook") is None


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/", "http://[::1]:9/", "http://localhost:9/"])
async def test_the_client_refuses_to_connect_inside(url: str) -> None:
    async with OutboundUrls().client(timeout=2) as http:
        with pytest.raises(UrlRefused, match="okno calls only public addresses"):
            await http.get(url)


async def test_the_allowed_client_reaches_loopback() -> None:
    async with LoopbackServer(_echo_app()) as server, OutboundUrls(allow_private=True).client(timeout=5) as http:
        assert (await http.get(f"{server.url}/hook")).json()["host"] == f"127.0.0.1:{server.port}"


class Redirected(httpcore.AsyncNetworkBackend):
    """Records the address the guarded backend connects to, then connects to a loopback port instead
    (the test stands in for a public server)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.asked: list[tuple[str, int]] = []
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ANN001, ANN201
        self.asked.append((host, port))
        return await self.inner.connect_tcp("127.0.0.1", self.port, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _echo_app() -> Starlette:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"host": request.headers["host"]})

    return Starlette(routes=[Route("/hook", echo, methods=["GET", "POST"])])


async def test_the_name_is_resolved_once_and_the_checked_address_is_connected_to_with_the_host_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = fake_dns(monkeypatch, {"crm.example": [[PUBLIC]]})
    async with LoopbackServer(_echo_app()) as server:
        network = Redirected(server.port)
        async with httpx.AsyncClient(transport=GuardedTransport(network=network)) as http:
            answer = await http.get("http://crm.example:8080/hook")
    assert answer.json() == {"host": "crm.example:8080"}  # the Host header keeps the name
    assert network.asked == [(PUBLIC, 8080)] and lookups == {"crm.example": 1}  # connected to the address checked


async def test_dns_rebinding_public_when_saved_then_private_is_refused_at_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = fake_dns(monkeypatch, {"crm.rebind.example": [[PUBLIC], ["127.0.0.1"]]})
    assert await OutboundUrls().refusal("https://crm.rebind.example/hook") is None  # the first answer: public
    network = Redirected(9)
    async with httpx.AsyncClient(transport=GuardedTransport(network=network)) as http:
        with pytest.raises(UrlRefused, match="crm.rebind.example resolves to 127.0.0.1, a loopback address"):
            await http.post("https://crm.rebind.example/hook", json={})
    assert network.asked == [] and lookups == {"crm.rebind.example": 2}  # never connected anywhere


async def test_any_private_address_among_the_answers_refuses_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"mixed.example": [[PUBLIC, "10.0.0.7"]]})
    network = Redirected(9)
    async with httpx.AsyncClient(transport=GuardedTransport(network=network)) as http:
        with pytest.raises(UrlRefused, match="mixed.example resolves to 10.0.0.7, a private address"):
            await http.get("http://mixed.example/")
    assert network.asked == []


class _TlsProbe(httpcore.AsyncNetworkStream):
    def __init__(self, seen: list) -> None:
        self.seen = seen

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # noqa: ANN001, ANN201
        self.seen.append(server_hostname)
        raise httpcore.ConnectError("stopped after the TLS parameters were seen")

    async def aclose(self) -> None:
        pass


async def test_tls_is_started_with_the_name_as_sni_on_the_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"crm.example": [[PUBLIC]]})
    seen: list = []

    class Network(Redirected):
        async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ANN001, ANN201
            self.asked.append((host, port))
            return _TlsProbe(seen)

    network = Network(9)
    async with httpx.AsyncClient(transport=GuardedTransport(network=network)) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("https://crm.example/hook")
    assert network.asked == [(PUBLIC, 443)] and seen == ["crm.example"]


class _Proxy:
    """A loopback HTTP proxy that records each request line and answers it itself."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        self.lines.append(head.split("\r\n", 1)[0])
        if head.startswith("CONNECT"):
            writer.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\nconnection: close\r\n\r\n{\"via\":\"proxy\"}")
        await writer.drain()
        writer.close()


def _proxy_env(monkeypatch: pytest.MonkeyPatch, proxy: str, no_proxy: str = "") -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    if no_proxy:
        monkeypatch.setenv("NO_PROXY", no_proxy)


async def test_an_environment_proxy_is_used_and_the_destination_is_checked_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = fake_dns(monkeypatch, {"crm.example": [[PUBLIC]], "inside.example": [["10.0.0.7"]]})
    proxy = _Proxy()
    async with proxy as proxy_url:
        _proxy_env(monkeypatch, proxy_url)  # the proxy itself is on loopback: the admin's machine, allowed
        async with OutboundUrls().client(timeout=5) as http:
            answer = await http.get("http://crm.example/hook?x=1")
            assert answer.json() == {"via": "proxy"}
            with pytest.raises(UrlRefused, match="inside.example resolves to 10.0.0.7, a private address"):
                await http.get("http://inside.example/hook")
            with pytest.raises(httpx.ProxyError):  # https: a tunnel to the name, after the same check
                await http.get("https://crm.example/hook")
    assert proxy.lines == ["GET http://crm.example/hook?x=1 HTTP/1.1", "CONNECT crm.example:443 HTTP/1.1"]
    assert lookups == {"crm.example": 2, "inside.example": 1}  # okno resolved each destination itself


async def test_no_proxy_hosts_are_called_directly_through_the_guarded_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"crm.example": [[PUBLIC]]})
    proxy = _Proxy()
    async with proxy as proxy_url, LoopbackServer(_echo_app()) as server:
        _proxy_env(monkeypatch, proxy_url, no_proxy="crm.example")
        network = Redirected(server.port)
        async with httpx.AsyncClient(transport=GuardedTransport(network=network)) as http:
            assert (await http.get("http://crm.example:8080/hook")).json() == {"host": "crm.example:8080"}
    assert proxy.lines == [] and network.asked == [(PUBLIC, 8080)]


async def test_a_socks_proxy_is_refused_rather_than_bypassed(monkeypatch: pytest.MonkeyPatch) -> None:
    _proxy_env(monkeypatch, "socks5://127.0.0.1:1080")
    async with OutboundUrls().client(timeout=2) as http:
        with pytest.raises(UrlRefused, match="socks5:// is not supported"):
            await http.get("http://93.184.216.34/")


def test_the_guarded_transport_uses_no_private_httpx_attribute() -> None:
    transport = GuardedTransport()
    assert isinstance(transport, httpx.AsyncBaseTransport) and not isinstance(transport, httpx.AsyncHTTPTransport)
    assert is_guarded(OutboundUrls().client(timeout=1)) and not is_guarded(OutboundUrls(allow_private=True).client(timeout=1))
