"""Webhook items handed from ``okno serve`` to the ``okno worker`` that stores them
(``OKNO_INGEST_BY_WORKER=true``, both processes on one machine and one data dir).

SQLite lets one process write at a time. When ``okno serve`` and ``okno worker`` both write the
webhooks' items (the split deployment), each waits for the other's lock and each drops its page
cache whenever the other commits (docs/ingest-performance-log.md). With the hand-off, serving
processes do the HTTP work (read, verify the signature, parse, the senders' keys) and hand the
verified items to the worker, which stores them with its own group commit
(:class:`okno.channels.intake.WebhookIntake`, the pipeline inline) and answers; the webhook is
answered 200 only after that commit, exactly as in one process, so an accepted item is never lost.
If the worker is down or does not answer in time the webhook gets 503 and nothing is stored: the
provider retries, and an item stored just before a crash comes back as a duplicate.

The wire: a Unix stream socket at ``<data_dir>/ingest.sock`` created owner-only (the data dir's
permissions are its access rule). Each frame is ``len(head)`` and ``len(body)`` as 4-byte
big-endian integers, then ``head`` (JSON) and ``body`` (the request body as received). A
request's head: ``{"n": request number, "c": channel id, "items": [item, …], "refused": [[index,
reason], …]}``, each item as the adapters' item model writes it (its ``kind`` tells which); a
reply's head: ``{"n", "stored", "duplicates"}`` or ``{"n", "error"}``, with an empty body. A
serving process also sends the wakes its own commits ask for (``{"wake": [queue, …]}``, no reply):
the worker then takes a change of the database file as another process's only when it committed
nothing itself meanwhile (kit/wake_bridge.py), instead of waking every queue on its own commits.
Each side sends what one turn of its event loop produced in one write (a group commit's replies
go out together).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import structlog
from pydantic import BaseModel

from okno.channels.base import NUL_FREE, InboundItemModel, InboundMessage, InboundStatus
from okno.channels.inbound import Accepted
from okno.channels.intake import WebhookIntake
from okno.kit.corked_transport import CorkedTransport
from okno.kit.private_files import private_dir

log = structlog.get_logger()

Item = InboundMessage | InboundStatus
SOCKET_NAME = "ingest.sock"
_SIZES = struct.Struct(">II")
MAX_PART_BYTES = 64 * 1024 * 1024  # a frame whose head or body is larger is refused (the connection closed)
REPLY_TIMEOUT_SECONDS = 30.0


class IntakeUnavailable(Exception):
    """The worker could not be reached or did not answer: nothing was stored by this request."""


def socket_path(data_dir: Path) -> Path:
    return data_dir.resolve() / SOCKET_NAME


class _Request(BaseModel):
    n: int
    c: int
    items: list[InboundItemModel]
    refused: list[tuple[int, str]] = []


def _frame(head: bytes, body: bytes = b"") -> bytes:
    return _SIZES.pack(len(head), len(body)) + head + body


def _wake_frame(names: Iterable[str]) -> bytes:
    return _frame(orjson.dumps({"wake": sorted(names)}))


def _corked(writer: asyncio.StreamWriter) -> CorkedTransport:
    """The connection's writes of one loop turn in one call (a group commit's replies together)."""
    return CorkedTransport(writer.transport, asyncio.get_running_loop())  # type: ignore[arg-type]


async def _read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head_size, body_size = _SIZES.unpack(await reader.readexactly(_SIZES.size))
    if head_size > MAX_PART_BYTES or body_size > MAX_PART_BYTES:
        raise ValueError(f"frame of {head_size} + {body_size} bytes refused")
    data = await reader.readexactly(head_size + body_size)
    return data[:head_size], data[head_size:]


class IntakeLink:
    """``okno serve``'s intake when the worker stores the items: :meth:`submit` as
    :class:`WebhookIntake`'s, over the worker's socket (one connection, opened on first use and
    again after it broke)."""

    def __init__(self, path: Path, *, timeout: float = REPLY_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.timeout = timeout
        self._outbox: CorkedTransport | None = None
        self._reading: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()
        self._waiting: dict[int, asyncio.Future[Accepted]] = {}
        self._number = 0
        self._wakes: set[str] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    def forward_wakes(self, names: Iterable[str]) -> None:
        """Wakes this process's commits ask for (an operator's reply: the worker's delivery queue),
        sent to the worker with what else this loop turn sends. Never raises: while the worker is
        unreachable its queues' poll finds the work."""
        if self._wakes is None:
            self._wakes = set(names)
            asyncio.get_running_loop().call_soon(self._send_wakes)
        else:
            self._wakes.update(names)

    def _send_wakes(self) -> None:
        names, self._wakes = self._wakes, None
        if not names:
            return
        if self._outbox is not None:
            self._outbox.write(_wake_frame(names))
            return
        task = asyncio.get_running_loop().create_task(self._connect_and_wake(names))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _connect_and_wake(self, names: set[str]) -> None:
        with contextlib.suppress(IntakeUnavailable):
            (await self._connect()).write(_wake_frame(names))

    async def submit(self, channel_id: int, items: list[Item], raw: bytes, refused: Sequence[tuple[Item, str]] = ()) -> Accepted:
        outbox = self._outbox if self._outbox is not None else await self._connect()
        self._number += 1
        number = self._number
        everything = [*items, *(item for item, _ in refused)]
        head = orjson.dumps({
            "n": number,
            "c": channel_id,
            "items": [orjson.Fragment(item.__pydantic_serializer__.to_json(item)) for item in everything],
            "refused": [[len(items) + i, reason] for i, (_, reason) in enumerate(refused)],
        })
        answer = asyncio.get_running_loop().create_future()
        self._waiting[number] = answer
        try:
            outbox.write(_frame(head, raw))
            async with asyncio.timeout(self.timeout):
                return await answer
        except TimeoutError:
            raise IntakeUnavailable(f"the worker did not answer within {self.timeout:g} s") from None
        finally:
            self._waiting.pop(number, None)

    async def _connect(self) -> CorkedTransport:
        async with self._connecting:
            if self._outbox is not None:
                return self._outbox
            try:
                reader, writer = await asyncio.open_unix_connection(str(self.path))
            except OSError as exc:
                raise IntakeUnavailable(f"the worker's intake at {self.path} is not reachable: {exc.strerror or exc}") from None
            self._outbox = _corked(writer)
            self._reading = asyncio.create_task(self._read_replies(reader, writer, self._outbox))
            return self._outbox

    async def _read_replies(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, outbox: CorkedTransport) -> None:
        """Answers the waiting requests until the connection ends (it holds the writer: a
        StreamWriter closes its connection when it is collected)."""
        reason = "the worker closed the connection"
        try:
            while True:
                head, _ = await _read_frame(reader)
                reply = orjson.loads(head)
                answer = self._waiting.get(reply["n"])
                if answer is None or answer.done():
                    continue  # its request timed out meanwhile
                if "error" in reply:
                    answer.set_exception(IntakeUnavailable(reply["error"]))
                else:
                    answer.set_result(Accepted(stored=reply["stored"], duplicates=reply["duplicates"]))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, KeyError, orjson.JSONDecodeError) as exc:
            if not isinstance(exc, asyncio.IncompleteReadError):
                reason = f"the worker's answer could not be read: {exc}"
        finally:
            if self._outbox is outbox:
                self._outbox = None
            writer.close()
            for answer in self._waiting.values():  # sent on this connection: their fate is unknown
                if not answer.done():
                    answer.set_exception(IntakeUnavailable(reason))

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading


class IntakeListener:
    """The worker's end: every connected serving process's items go through this process's
    :class:`WebhookIntake` (its group commit), each request answered when its group committed."""

    def __init__(self, intake: WebhookIntake, path: Path, *, wake: Callable[[Iterable[str]], None] = lambda names: None) -> None:
        self.intake = intake
        self.path = path
        self.wake = wake  # the serving processes' wakes for this process's queues
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        private_dir(self.path.parent)  # the data dir (on PostgreSQL nothing else may have made it yet)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # left by a worker that did not stop cleanly (one worker per data dir: kit/worker_lock)
        old_mask = os.umask(0o177)  # created owner-only, never readable by others even for a moment
        try:
            self._server = await asyncio.start_unix_server(self._serve, str(self.path))
        finally:
            os.umask(old_mask)
        log.info("intake_listening", socket=str(self.path))

    async def stop(self) -> None:
        """Takes no new connection; replies owed are sent as their group commits finish
        (``WebhookIntake.close``, after this), and the connections are closed then."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def close_connections(self) -> None:
        for writer in list(self._connections):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        outbox = _corked(writer)
        self._connections.add(writer)
        try:
            while True:
                head, body = await _read_frame(reader)
                if head.startswith(b'{"wake":'):
                    self.wake(orjson.loads(head)["wake"])
                    continue
                request = _Request.model_validate_json(head, context=NUL_FREE)  # the serving process dropped NULs already
                refused_at = dict(request.refused)
                items = [item for i, item in enumerate(request.items) if i not in refused_at]
                refused = [(request.items[i], reason) for i, reason in refused_at.items()]
                answer = self.intake.enqueue(request.c, items, body, refused)
                answer.add_done_callback(partial(_reply, outbox, request.n))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception as exc:  # a frame this worker cannot read: the sender's requests fail, nothing half-stored
            log.warning("intake_frame_refused", error=str(exc)[:300])
        finally:
            self._connections.discard(writer)
            writer.close()


def _reply(outbox: CorkedTransport, number: int, answer: asyncio.Future[Accepted]) -> None:
    if answer.cancelled():
        head: dict[str, Any] = {"n": number, "error": "the worker stopped before storing it"}
    elif answer.exception() is not None:
        head = {"n": number, "error": f"storage failed: {type(answer.exception()).__name__}"}
    else:
        accepted = answer.result()
        head = {"n": number, "stored": accepted.stored, "duplicates": accepted.duplicates}
    outbox.write(_frame(orjson.dumps(head)))
