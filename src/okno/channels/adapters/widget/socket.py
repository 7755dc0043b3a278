"""The visitor's side of the widget WebSocket (docs/channel-protocols.md §9).

Client → server: ``message {client_id, text, page_url?, utm?}``, ``contact {client_id, name?,
phone?, email?}``, ``answer {client_id, message_id, option_id}`` (a press on offered choices),
``received|read {message_id}``, ``ping``, ``verify {kind, value}`` and ``verify_code {code}`` (a
one-time code proves a typed phone or e-mail: ``verification.py``), ``typing`` (ephemeral: shown
to operators, never stored). Server → client: ``ack
{client_id, seq}``, ``message {seq, from, text, message_id?, client_id?, interactive?, answer?}``,
``verify {status, …}``, ``error {detail, code, client_id?, message_id?, retry_after?}``, ``pong``.
``code`` says what to do about an error: ``invalid`` (the frame is refused for good),
``rate_limited`` (send it again after ``retry_after`` seconds), ``unknown_message`` (a receipt for
a message not sent to this visitor).
Every visitor message is stored durably (raw inbound item + stream event, one transaction)
before it is acknowledged; ``client_id`` makes resends idempotent; a reconnect with
``last_seq`` replays what the visitor missed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, Field, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from okno.channels.adapters.widget.interactive import MESSAGE_PREFIX, AnswerFrame, UnknownChoice, answer_item
from okno.channels.adapters.widget.limits import WidgetLimits
from okno.channels.adapters.widget.streams import VisitorHub, append_event, event_by_client_id, events_after, wire_event
from okno.channels.adapters.widget.verification import CodeVerifier
from okno.channels.base import InboundMessage, InboundStatus, SenderIdentity
from okno.channels.inbound import stage_items
from okno.kit.db import Database
from okno.kit.nul import bad_text

MAX_TEXT = 4096
TYPING_EVERY = 3.0  # seconds: the widget sends ``typing`` at most this often, the server drops closer ones
MAX_RECEIPTS_REMEMBERED = 1000  # per socket: a receipt already taken is not staged again
_SENDS = frozenset({"message", "contact", "answer", "verify", "verify_code"})


class _Message(BaseModel):
    client_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    page_url: str | None = Field(default=None, max_length=2000)
    utm: dict[str, str] = Field(default_factory=dict, max_length=10)


class _Contact(BaseModel):
    client_id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=320)
    page_url: str | None = Field(default=None, max_length=2000)


class _Receipt(BaseModel):
    message_id: str = Field(min_length=1, max_length=200)


@dataclass
class VisitorSocket:
    websocket: WebSocket
    db: Database
    hub: VisitorHub
    channel_id: int
    visitor_id: str
    wake_ingest: Callable[[], None]
    verifier: CodeVerifier | None = None  # one-time codes that prove a typed phone or e-mail (verification.py)
    limits: WidgetLimits = field(default_factory=WidgetLimits)
    ip: str = ""
    # tells operators the visitor is typing (okno.channels.typing); at most once per TYPING_EVERY
    report_typing: Callable[[], Awaitable[object]] | None = None
    _typing_at: float = -TYPING_EVERY
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _receipts: set[tuple[str, str]] = field(default_factory=set)

    @property
    def key(self) -> tuple[int, str]:
        return (self.channel_id, self.visitor_id)

    async def serve(self, last_seq: int) -> None:
        queue = self.hub.subscribe(self.key)  # before the replay, so nothing falls in between
        try:
            delivered = await self._replay(last_seq)
            pusher = asyncio.create_task(self._push(queue, delivered))
            try:
                await self._read()
            finally:
                pusher.cancel()
        finally:
            self.hub.unsubscribe(self.key, queue)

    async def _replay(self, last_seq: int) -> int:
        async with self.db.reading() as session:
            events = await events_after(session, self.channel_id, self.visitor_id, last_seq)
        for event in events:
            await self._send(wire_event(event))
        return events[-1].seq if events else last_seq

    async def _push(self, queue: asyncio.Queue[dict[str, Any]], delivered: int) -> None:
        while True:
            message = await queue.get()
            if message["seq"] > delivered:
                delivered = message["seq"]
                await self._send(message)

    async def _read(self) -> None:
        while True:
            try:
                message = await self.websocket.receive()
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            try:
                frame = orjson.loads(message.get("text") or message.get("bytes") or b"")
                kind = frame.get("type") if isinstance(frame, dict) else None
            except orjson.JSONDecodeError:
                kind, frame = None, {}
            if not isinstance(frame, dict):
                kind, frame = None, {}
            if bad_text(frame):  # PostgreSQL can't store it: refuse the frame, keep the socket
                await self._error(frame, "invalid", "NUL characters and unpaired surrogates are not accepted")
                continue
            await self._dispatch(kind, frame)

    async def _error(self, frame: dict[str, Any], code: str, detail: str, **extra: Any) -> None:
        client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
        await self._send({"type": "error", "code": code, "client_id": client_id, "detail": detail, **extra})

    async def _dispatch(self, kind: str | None, frame: dict[str, Any]) -> None:
        handlers = {
            "message": self._on_message, "contact": self._on_contact, "answer": self._on_answer,
            "received": self._on_receipt, "read": self._on_receipt, "ping": self._on_ping,
            "verify": self._on_verify, "verify_code": self._on_verify_code, "typing": self._on_typing,
        }
        handler = handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self._error(frame, "invalid", f"unknown frame type {str(kind)[:40]!r}")
            return
        if kind in _SENDS and (wait := await self.limits.message(self.channel_id, self.visitor_id, self.ip)):
            await self._error(frame, "rate_limited", "too many messages; wait a little", retry_after=round(wait, 1))
            return
        try:
            await handler(frame)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            await self._error(frame, "invalid", f"{where}: {err['msg']}")

    async def _on_typing(self, _frame: dict[str, Any]) -> None:
        """Ephemeral: nothing is stored or acknowledged; frames closer than ``TYPING_EVERY`` are dropped."""
        now = time.monotonic()
        if self.report_typing is None or now - self._typing_at < TYPING_EVERY:
            return
        self._typing_at = now
        await self.report_typing()

    async def _on_ping(self, _frame: dict[str, Any]) -> None:
        await self._send({"type": "pong"})

    async def _on_verify(self, frame: dict[str, Any]) -> None:
        if self.verifier is not None:
            await self._send(await self.verifier.request(frame))

    async def _on_verify_code(self, frame: dict[str, Any]) -> None:
        if self.verifier is not None:
            await self._send(await self.verifier.check(frame))

    async def _on_message(self, frame: dict[str, Any]) -> None:
        body = _Message.model_validate(frame)
        context = {k: v for k, v in (("page_url", body.page_url), ("utm", body.utm)) if v}
        item = InboundMessage(
            provider_id=f"web:{self.visitor_id}:{body.client_id}",
            provider_message_id=body.client_id,
            sender=[SenderIdentity(kind="web", value=self.visitor_id)],
            text=body.text,
            context={"widget": context} if context else {},
        )
        await self._store_and_ack(body.client_id, item, {"text": body.text})

    async def _on_contact(self, frame: dict[str, Any]) -> None:
        body = _Contact.model_validate(frame)
        sender = [SenderIdentity(kind="web", value=self.visitor_id)]
        sender += [SenderIdentity(kind=k, value=v, source="widget.typed") for k, v in (("phone", body.phone), ("email", body.email)) if v]
        item = InboundMessage(
            provider_id=f"web:{self.visitor_id}:{body.client_id}",
            provider_message_id=body.client_id,
            sender=sender,
            sender_name=body.name or "",
            # what the visitor typed, shown in the conversation as a contact card (typed, not proven)
            attachments=[{"kind": "contact", "own": True, "typed": True, **{k: v for k, v in (("name", body.name), ("phone", body.phone), ("email", body.email)) if v}}],
            context={"widget": {"event": "contact_left", **({"page_url": body.page_url} if body.page_url else {})}},
        )
        shown = {"contact": {k: v for k, v in (("name", body.name), ("phone", body.phone), ("email", body.email)) if v}}
        await self._store_and_ack(body.client_id, item, shown)

    async def _on_answer(self, frame: dict[str, Any]) -> None:
        body = AnswerFrame.model_validate(frame)
        async with self.db.reading() as session:
            try:
                item, shown = await answer_item(session, self.channel_id, self.visitor_id, body)
            except UnknownChoice as exc:
                await self._error(frame, "invalid", str(exc))
                return
        await self._store_and_ack(body.client_id, item, shown)

    async def _on_receipt(self, frame: dict[str, Any]) -> None:
        """A receipt counts only for an operator's message to this very visitor, once per socket
        and status, and within the visitor's receipt rate."""
        body = _Receipt.model_validate(frame)
        status = "delivered" if frame["type"] == "received" else "read"
        if (body.message_id, status) in self._receipts:
            return  # already taken: a repeat changes nothing
        if wait := await self.limits.receipt(self.channel_id, self.visitor_id):
            await self._send({"type": "error", "code": "rate_limited", "message_id": body.message_id, "detail": "too many receipts", "retry_after": round(wait, 1)})
            return
        sent = None
        if body.message_id.startswith(MESSAGE_PREFIX):
            async with self.db.reading() as session:
                sent = await event_by_client_id(session, self.channel_id, self.visitor_id, body.message_id[len(MESSAGE_PREFIX):])
        if sent is None or sent.kind != "agent":
            await self._send({"type": "error", "code": "unknown_message", "message_id": body.message_id, "detail": "no such message was sent to you"})
            return
        async with self.db.transaction() as session:
            accepted = await stage_items(session, self.channel_id, [InboundStatus(provider_message_id=body.message_id, status=status)], b"")
        if len(self._receipts) < MAX_RECEIPTS_REMEMBERED:
            self._receipts.add((body.message_id, status))
        if accepted.stored:
            self.wake_ingest()

    async def _store_and_ack(self, client_id: str, item: InboundMessage, shown: dict[str, Any]) -> None:
        async with self.db.transaction() as session:
            event = await event_by_client_id(session, self.channel_id, self.visitor_id, client_id)
            fresh = event is None
            if fresh:
                await stage_items(session, self.channel_id, [item], orjson.dumps(item.model_dump(mode="json")))
                event = await append_event(session, channel_id=self.channel_id, visitor_id=self.visitor_id, kind="visitor", client_id=client_id, payload=shown)
        await self._send({"type": "ack", "client_id": client_id, "seq": event.seq})
        if fresh:
            self.wake_ingest()
            await self.hub.publish(self.key, wire_event(event))  # the visitor's other open tabs

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:  # acks (reader) and pushes (hub) share one socket
            await self.websocket.send_text(orjson.dumps(message).decode())
