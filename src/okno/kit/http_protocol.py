"""uvicorn's httptools protocol, with each response's writes sent as one.

uvicorn writes a response's status line and headers when the app sends ``http.response.start``
and its body when it sends ``http.response.body``: two ``send`` calls on the socket for every
small response. On a loopback or LAN connection whose client is waiting, each call also wakes
the client, so under webhook load the second call costs about as much as the first (measured in
``bench/ingest_wrk.py``'s profile: the two calls were ~14 % of okno's CPU a message).

Through :class:`okno.kit.corked_transport.CorkedTransport` the header block and the body of a
response go out together, a streamed response's chunks as they are produced (each turn's chunks
at once).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from okno.kit.corked_transport import CorkedTransport


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a :class:`CorkedTransport`
    (``uvicorn.run(..., http=CorkedHttpToolsProtocol)``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, self.loop))  # type: ignore[arg-type]
