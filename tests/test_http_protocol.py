"""`okno serve`'s HTTP protocol (okno.kit.http_protocol): a response's header block and body leave
in one socket write, and nothing else about serving changes — keep-alive, streamed responses
arriving chunk by chunk, and WebSocket upgrades."""

from __future__ import annotations

import asyncio
import base64
import os

import httpx
import uvicorn
from uvicorn.server import ServerState

from okno.kit.http_protocol import CorkedHttpToolsProtocol, CorkedTransport
from tests.conftest import free_port

STREAM_CHUNKS = 3


async def app(scope, receive, send) -> None:  # noqa: ANN001
    if scope["type"] == "websocket":
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": "эхо: " + message["text"]})
        return
    if scope["path"] == "/stream":  # each chunk a turn of its own, as a live event stream sends them
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for n in range(STREAM_CHUNKS):
            await send({"type": "http.response.body", "body": f"data: {n}\n\n".encode(), "more_body": True})
            await asyncio.sleep(0.2)
        await send({"type": "http.response.body", "body": b""})
        return
    body = f"ответ на {scope['path']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class RecordingTransport:
    """What the protocol hands to the socket, call by call."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.protocol = None

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def set_protocol(self, protocol) -> None:  # noqa: ANN001
        self.protocol = protocol

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default=None):  # noqa: ANN001, ANN201
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_response_leaves_in_one_socket_write() -> None:
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    protocol = CorkedHttpToolsProtocol(config, ServerState(), {})
    transport = RecordingTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(b"GET /first HTTP/1.1\r\nHost: okno.test\r\n\r\n")
    await _settle()
    assert len(transport.writes) == 1, transport.writes  # uvicorn's own protocol writes twice
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == "ответ на /first".encode()

    protocol.data_received(b"GET /second HTTP/1.1\r\nHost: okno.test\r\nConnection: close\r\n\r\n")
    await _settle()
    assert len(transport.writes) == 2 and transport.writes[1].endswith("ответ на /second".encode())
    assert transport.closed  # "Connection: close" closed it after sending, not before


async def test_held_writes_go_out_before_close_upgrade_and_abort() -> None:
    loop = asyncio.get_running_loop()
    for finish in ("close", "set_protocol", "abort", "write_eof"):
        real = RecordingTransport()
        real.write_eof = lambda: None  # type: ignore[attr-defined]
        corked = CorkedTransport(real, loop)  # type: ignore[arg-type]
        corked.write(b"head ")
        corked.writelines([b"body", b""])
        assert real.writes == [] and corked.get_write_buffer_size() == len(b"head body")
        getattr(corked, finish)(*([object()] if finish == "set_protocol" else []))
        assert real.writes == [b"head body"], finish
        await _settle()
        assert real.writes == [b"head body"], finish  # and not a second time
    gone = RecordingTransport()
    corked = CorkedTransport(gone, loop)  # type: ignore[arg-type]
    corked.write(b"late")
    gone.closed = True  # the peer went away meanwhile: nothing is written to a closing transport
    await _settle()
    assert gone.writes == []


class _Served:
    def __init__(self) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
                                                    http=CorkedHttpToolsProtocol, timeout_graceful_shutdown=1))  # ws "auto", as okno serve

    async def __aenter__(self) -> _Served:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        await self.task


async def test_keep_alive_and_streams_on_a_real_socket() -> None:
    async with _Served() as served, httpx.AsyncClient(base_url=f"http://127.0.0.1:{served.port}", timeout=5) as http:
        answers = [await http.get(f"/n{n}") for n in range(20)]  # one connection, kept alive
        assert [a.text for a in answers] == [f"ответ на /n{n}" for n in range(20)]
        async with http.stream("GET", "/stream") as stream:
            started = asyncio.get_running_loop().time()
            arrivals = []
            async for chunk in stream.aiter_text():
                arrivals.append((chunk, asyncio.get_running_loop().time() - started))
        assert "".join(c for c, _ in arrivals) == "".join(f"data: {n}\n\n" for n in range(STREAM_CHUNKS))
        assert arrivals[0][1] < 0.15  # the first event was not held back until the stream ended


async def test_a_websocket_upgrade_on_the_corked_protocol() -> None:
    async with _Served() as served:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(f"GET /ws HTTP/1.1\r\nHost: okno.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        handshake = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert handshake.startswith(b"HTTP/1.1 101")
        text = "привет".encode()
        mask = os.urandom(4)
        writer.write(bytes([0x81, 0x80 | len(text)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text)))
        first, length = await asyncio.wait_for(reader.readexactly(2), 5)
        assert first == 0x81 and length < 126
        assert (await reader.readexactly(length)).decode() == "эхо: привет"
        writer.close()
