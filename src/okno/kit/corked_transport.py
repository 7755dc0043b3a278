"""A transport that joins the writes of one event-loop turn into one socket call.

:class:`CorkedTransport` holds what is written during one turn of the event loop and hands it
to the transport behind it in one call at the start of the next turn (``loop.call_soon``).
Closing, aborting, half-closing or handing the connection to another protocol (a WebSocket
upgrade) sends what is held first; what is held when the connection is already closing is
dropped, as the transport would drop it. Used by okno's HTTP protocol (okno.kit.http_protocol)
and by the webhook hand-off's socket (okno.channels.handoff).
"""

from __future__ import annotations

import asyncio
from typing import Any


class CorkedTransport:
    """An ``asyncio.Transport`` in front of another that joins the writes of one loop turn."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._held is None:
            self._held = [bytes(data)]
            self._loop.call_soon(self.flush)
        else:
            self._held.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self.flush()  # as if written at once: the socket may take it before the connection drops
        self._transport.abort()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.flush()
        self._transport.set_protocol(protocol)

    def get_write_buffer_size(self) -> int:
        held = sum(map(len, self._held)) if self._held else 0
        return held + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, …
        return getattr(self._transport, name)
