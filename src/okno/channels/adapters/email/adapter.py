"""Channel kind ``email``: a support mailbox read over IMAP (polled, woken by IDLE) and answered
through SMTP (docs/channel-protocols.md §5, docs/email.md).

Inbound: the poll worker calls :meth:`EmailChannel.poll`; its cursor is the folder's
UIDVALIDITY and the last UID stored, so a poll fetches only what came after (a changed
UIDVALIDITY rescans the folder; Message-ID based provider ids make the rescan store nothing
twice). Between polls an :class:`~okno.channels.adapters.email.imap.IdleWatcher` holds the
mailbox in IDLE and makes the next poll due the moment the server announces mail.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any, ClassVar

import httpx
import structlog
from pydantic import BaseModel
from sqlalchemy import select

from okno.channels.adapters.email import imap, smtp
from okno.channels.adapters.email.config import EmailConfig
from okno.channels.adapters.email.parsing import ParsedEmail, parse_email
from okno.channels.adapters.email.quotes import split_reply
from okno.channels.base import (
    AttachmentUnavailable,
    Capabilities,
    ChannelNeedsAction,
    DeliveryError,
    Download,
    InboundMessage,
    InboundStatus,
    Label,
    OutboundMessage,
    PermanentFailure,
    PollBatch,
    SenderIdentity,
    SendResult,
    TemporaryFailure,
    Threading,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from okno.channels.kept_files import BLOB_MARK
from okno.channels.runtime import AdapterRuntime
from okno.kit.outbound_urls import is_guarded, refusal_for, resolve_host
from okno.models import Conversation, Message, Operator, Team

log = structlog.get_logger()

MAX_TEXT = 100_000
BATCH = 200  # messages fetched per poll; more waiting polls again at once
POLL_WITH_IDLE = 300.0  # seconds between polls while IDLE watches (a safety net)
POLL_WITHOUT_IDLE = 60.0
MAX_KEY = 200  # longer ids (rare) are replaced by a digest to fit provider and thread keys
_NOBODY: Mapping[str, int] = MappingProxyType({})
_TOKEN = re.compile(r"^[^+@]+\+c(\d{1,18})@", re.IGNORECASE)


def id_key(message_id: str) -> str:
    """A Message-ID as okno stores it (provider ids, thread keys): itself, or a digest if too long."""
    return message_id if len(message_id) <= MAX_KEY else "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


class EmailChannel:
    kind: ClassVar[str] = "email"
    title: ClassVar[str] = "E-mail"
    title_label: ClassVar[Label] = Label(en="E-mail", ru="Электронная почта")
    config_model: ClassVar[type[BaseModel]] = EmailConfig
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_text_length=MAX_TEXT,
        medium="email",
        media_kinds=frozenset({"image", "file"}),
        attachment_download=True,
        keeps_files=True,
        threading=Threading.per_thread,
        ingress=frozenset({"poll"}),
        outbound_media=frozenset({"image", "file"}),
        address_kinds=frozenset({"email"}),
        starts_conversations=True,
        links=True,
    )

    def __init__(self, channel_id: int) -> None:
        self.channel_id = channel_id
        self.runtime: AdapterRuntime | None = None

    def bind_runtime(self, runtime: AdapterRuntime) -> None:
        self.runtime = runtime

    def handle_webhook(self, config: EmailConfig, request: WebhookRequest) -> WebhookResult:
        raise WebhookRejected(404, "an e-mail channel takes no webhooks: okno reads the mailbox over IMAP")

    # ---- the connection test --------------------------------------------------------------

    @classmethod
    async def check_connection(cls, config: EmailConfig, *, allow_private: bool) -> str | None:
        """Why the mailbox can't be used with these settings (the server's own words), or None."""
        for host, port in ((config.imap_host, config.imap_port), (config.smtp_host, config.smtp_port)):
            if not allow_private and (refused := await _host_refusal(host, port)) is not None:
                return f"{host}: {refused}"
        try:
            await asyncio.to_thread(imap.check, config)
        except imap.ImapError as exc:
            return exc.reason
        try:
            await smtp.check(config)
        except PermanentFailure as exc:
            return exc.reason
        return None

    # ---- inbound --------------------------------------------------------------------------

    async def poll(self, config: EmailConfig, cursor: dict[str, Any], http: httpx.AsyncClient) -> PollBatch:
        await _guard(config, http, (config.imap_host, config.imap_port))
        watcher = _watchers.touch(self.channel_id, config, self.runtime)
        started = time.monotonic()
        try:
            fetched = await asyncio.to_thread(imap.fetch_new, config, cursor, BATCH, sessions.get(self.channel_id, config))
        except imap.ImapError as exc:
            if exc.auth:
                raise ChannelNeedsAction(exc.reason + "; check the channel's login and password") from exc
            raise TemporaryFailure(exc.reason) from exc
        staff = await self._staff() if fetched.messages else {}
        blobs = self.runtime.blobs if self.runtime is not None else None
        keep = (lambda data: blobs.put(data).sha256) if blobs is not None else None
        # parsed, and the files written to the blob store, off the event loop
        items = await asyncio.to_thread(
            lambda: [item for uid, raw in fetched.messages for item in inbound_items(config, raw, uid=uid, uidvalidity=fetched.uidvalidity, staff=staff, keep=keep)]
        ) if fetched.messages else []
        last_uid = max((uid for uid, _ in fetched.messages), default=None)
        if last_uid is None:
            last_uid = int(cursor.get("last_uid", 0)) if cursor.get("uidvalidity") == fetched.uidvalidity else 0
        more = fetched.more or (watcher is not None and watcher.announced_since(started))
        if more:
            wait = 0.0
        elif watcher is not None and watcher.listening:
            wait = POLL_WITH_IDLE
        else:
            wait = POLL_WITHOUT_IDLE
        return PollBatch(items=items, cursor={"uidvalidity": fetched.uidvalidity, "last_uid": last_uid}, next_poll_in=wait)

    async def _staff(self) -> dict[str, int]:
        """The active operators' addresses (their logins): mail from one is his copy, not a customer's."""
        if self.runtime is None:
            return {}
        async with self.runtime.db.reading() as session:
            rows = await session.execute(select(Operator.email, Operator.id).where(Operator.is_active.is_(True)))
        return {email.strip().lower(): operator_id for email, operator_id in rows}

    # ---- outbound -------------------------------------------------------------------------

    async def fetch_attachment(self, config: EmailConfig, attachment: dict[str, Any], http: httpx.AsyncClient) -> Download:
        """The file, read again from the message in the mailbox (found by its Message-ID)."""
        message_id, part = attachment.get("message_id"), attachment.get("part")
        if not isinstance(message_id, str) or not isinstance(part, int):
            raise AttachmentUnavailable("the attachment names no message to read it from")
        try:
            await _guard(config, http, (config.imap_host, config.imap_port))
            raw = await asyncio.to_thread(imap.fetch_one, config, message_id)
        except (imap.ImapError, DeliveryError) as exc:
            raise AttachmentUnavailable(f"the mailbox could not be read: {getattr(exc, 'reason', exc)}") from exc
        if raw is None:
            raise AttachmentUnavailable("the message is no longer in the mailbox (moved or deleted)")
        files = parse_email(raw).attachments
        if not 0 <= part < len(files):
            raise AttachmentUnavailable("the message no longer has this attachment")
        found = files[part]
        return Download(content=found.data, content_type=found.content_type, filename=found.filename)

    async def send(self, config: EmailConfig, message: OutboundMessage, http: httpx.AsyncClient) -> SendResult:
        to = message.recipient.first("email")
        if to is None:
            raise PermanentFailure("the customer has no e-mail address to write to")
        await _guard(config, http, (config.smtp_host, config.smtp_port))
        thread = await self._thread(message)
        message_id = smtp.message_id_for(config, message.idempotency_key)
        files = [(file, await file.read()) for file in message.files]
        mail = smtp.compose(
            config, to=to, to_name=message.recipient.name, text=message.text, thread=thread,
            message_id=message_id, files=files, reply_token=f"c{message.conversation_id}", signature=await self._signature(message),
        )
        await smtp.deliver(config, mail, to)
        return SendResult(provider_message_id=message_id)

    async def _signature(self, message: OutboundMessage) -> str:
        """The author's signature (his profile), then his conversation's team's (the team admin)."""
        if self.runtime is None:
            return ""
        async with self.runtime.db.reading() as session:
            own = await session.scalar(
                select(Operator.signature).join(Message, Message.author_id == Operator.id).where(Message.id == message.message_id)
            )
            team = await session.scalar(
                select(Team.signature).join(Conversation, Conversation.team_id == Team.id).where(Conversation.id == message.conversation_id)
            )
        return "\n\n".join(s.strip() for s in (own, team) if s and s.strip())

    async def _thread(self, message: OutboundMessage) -> smtp.Thread:
        """The ids of the conversation's earlier e-mails (oldest first) and its subject."""
        if self.runtime is None:
            return smtp.Thread()
        async with self.runtime.db.reading() as session:
            rows = (
                await session.execute(
                    select(Message.provider_message_id, Message.subject)
                    .where(Message.conversation_id == message.conversation_id, Message.id != message.message_id)
                    .order_by(Message.id)
                )
            ).all()
        ids = tuple(dict.fromkeys(pid for pid, _ in rows if pid and "@" in pid))
        subject = next((s for _, s in rows if s), "")
        return smtp.Thread(ids=ids, subject=subject)


# ---- turning a raw message into inbound items ------------------------------------------------


def inbound_items(config: EmailConfig, raw: bytes, *, uid: int, uidvalidity: int, staff: Mapping[str, int] = _NOBODY,
                  keep: Callable[[bytes], str] | None = None) -> list[InboundMessage | InboundStatus]:
    """What one fetched message means to okno: a customer's message, a bounce of one of ours (a
    failed status), or nothing (our own mail coming back). ``keep`` writes a file's bytes to the
    blob store and returns their SHA-256 (see :func:`items_of`)."""
    try:
        parsed = parse_email(raw)
    except Exception as exc:  # a message the parser can't read is kept as a note, not lost
        log.warning("email_unparsable", uid=uid, error=f"{type(exc).__name__}: {exc}")
        return []
    return items_of(config, parsed, raw, uid=uid, uidvalidity=uidvalidity, staff=staff, keep=keep)


def items_of(config: EmailConfig, parsed: ParsedEmail, raw: bytes = b"", *, uid: int = 0, uidvalidity: int = 0,
             staff: Mapping[str, int] = _NOBODY, keep: Callable[[bytes], str] | None = None) -> list[InboundMessage | InboundStatus]:
    """``staff``: operators' addresses → their ids; mail from one is that operator's copy (his
    answer from his own mail client), filed as his outbound message (okno.channels.operator_copies).

    ``keep``: each attachment's bytes go to okno's blob store now, and the attachment carries their
    SHA-256 (``blob_sha256``); ingest records the file with the message (okno.channels.kept_files).
    Without it (or for mail stored before files were kept) a download reads the part again from
    the mailbox by ``message_id`` and ``part``."""
    if parsed.bounce is not None:
        original = parsed.bounce.original_message_id
        if original:
            reason = " ".join(x for x in ("bounced:", parsed.bounce.status, parsed.bounce.diagnostic) if x)
            return [InboundStatus(provider_message_id=id_key(original), status="failed", error=reason[:1000])]
        return []
    sender = parsed.from_address
    if not sender or sender == config.address:
        return []  # our own mail (a copy of a reply, a loop): never a customer's message
    if sender in staff and (own := _forwarded_own_answer(parsed, sender)) is not None:
        parsed = own  # an operator forwarded his answer as an attachment: the answer is the copy
    message_id = parsed.message_id or ("sha256:" + hashlib.sha256(raw or repr(parsed).encode()).hexdigest())
    key = id_key(message_id)
    refs = [id_key(i) for i in (*parsed.in_reply_to, *reversed(parsed.references))]
    for address in (*parsed.to, *parsed.cc):
        if (match := _TOKEN.match(address)) and address.rpartition("@")[2] == config.domain:
            refs.append(f"conversation:{match.group(1)}")
    root = parsed.references[0] if parsed.references else (parsed.in_reply_to[0] if parsed.in_reply_to else message_id)
    quoted = split_reply(parsed.text).quoted if parsed.new_text != parsed.text else ""
    files = [
        {
            "kind": "image" if file.content_type.startswith("image/") else "file",
            "name": file.filename, "content_type": file.content_type, "size": len(file.data),
            **({"message_id": message_id, "part": i} if parsed.message_id else {}),
            "inline": file.inline, "content_id": file.content_id,
            **({BLOB_MARK: keep(file.data)} if keep is not None else {}),
        }
        for i, file in enumerate(parsed.attachments)
    ] if parsed.message_id or keep is not None else []  # without a Message-ID nor the blob store the file can't be found again
    return [
        InboundMessage(
            provider_id=f"mid:{key}",
            provider_message_id=key,
            sender=[SenderIdentity(kind="email", value=sender, source="email.from")],
            sender_name=parsed.from_name,
            text=parsed.new_text or parsed.text,
            subject=parsed.subject[:998] or None,
            html=parsed.html,
            attachments=files,
            thread_key=id_key(root),
            thread_refs=list(dict.fromkeys(refs))[:100],
            operator_id=staff.get(sender),
            context={
                **({"automatic": True} if parsed.automatic else {}),
                "email": {
                    "message_id": message_id,
                    "subject": parsed.subject,
                    "quoted": quoted,
                    "cc": list(parsed.cc),
                    "to": list(parsed.to),
                    "reply_to": list(parsed.reply_to),
                    "in_reply_to": list(parsed.in_reply_to),
                    "references": list(parsed.references),
                    "automatic": parsed.automatic,
                    "uid": uid,
                    "uidvalidity": uidvalidity,
                }
            },
        )
    ]


def _forwarded_own_answer(parsed: ParsedEmail, sender: str) -> ParsedEmail | None:
    """The operator's own answer inside his "forward as attachment": its Message-ID and references
    name the thread it answered, its text is what he wrote (the forward's own note is dropped)."""
    for raw in parsed.forwarded:
        inner = parse_email(raw)
        if inner.from_address == sender and inner.bounce is None and (inner.in_reply_to or inner.references):
            return replace(inner, attachments=())  # its files are not in the mailbox under its own id
    return None


# ---- the outbound policy for mail servers ----------------------------------------------------


async def _host_refusal(host: str, port: int) -> str | None:
    try:
        async with asyncio.timeout(3.0):
            addresses = await resolve_host(host, port)
    except (OSError, TimeoutError, ValueError):
        return None  # unresolvable now: the check at every connection decides
    return refusal_for(host, addresses)


async def _guard(config: EmailConfig, http: httpx.AsyncClient, where: tuple[str, int]) -> None:
    """The outbound URL policy for a mail server: okno's client enforces it (its transport is the
    guarded one) unless private addresses are allowed; then the mail server is held to it too."""
    if not is_guarded(http):
        return
    host, port = where
    try:
        addresses = await resolve_host(host, port)
    except OSError as exc:
        raise TemporaryFailure(f"cannot resolve {host}: {exc}") from exc
    if (refused := refusal_for(host, addresses)) is not None:
        raise ChannelNeedsAction(f"refused: {refused}")


# ---- IDLE watchers, one per channel in this process ------------------------------------------


class _Watch:
    def __init__(self, channel_id: int, config: EmailConfig, runtime: AdapterRuntime) -> None:
        self.config = config
        self.last_poll = time.monotonic()
        self.last_announced = 0.0
        self._loop = asyncio.get_running_loop()
        self._runtime = runtime
        self._channel_id = channel_id
        self.watcher = imap.IdleWatcher(config, self._announced, alive=lambda: not self._loop.is_closed())
        self.watcher.start()

    @property
    def listening(self) -> bool:
        return self.watcher.connected.is_set()

    def announced_since(self, started: float) -> bool:
        return self.last_announced >= started

    def _announced(self) -> None:  # on the watcher's thread
        self.last_announced = time.monotonic()
        for delay in (0.0, 1.5, 5.0):  # again later: a poll running now may store a later due time
            try:
                self._loop.call_soon_threadsafe(self._schedule, delay, self.last_announced)
            except RuntimeError:  # the event loop is gone (shutdown): stop listening
                self.watcher.stop()
                return

    def _schedule(self, delay: float, announced: float) -> None:
        if delay:
            self._loop.call_later(delay, self._poll_if_missed, announced)
        else:
            self._spawn()

    def _poll_if_missed(self, announced: float) -> None:
        if self.last_poll < announced:
            self._spawn()

    def _spawn(self) -> None:
        task = self._loop.create_task(self._runtime.poll_now(self._channel_id))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)


_tasks: set[asyncio.Task[None]] = set()


class _Watchers:
    """The IDLE watchers of this process: started by a channel's first poll, replaced when its
    settings change, stopped when it has not been polled for a while (disabled or deleted)."""

    STALE = 900.0

    def __init__(self) -> None:
        self._by_channel: dict[int, _Watch] = {}
        self._lock = threading.Lock()

    def touch(self, channel_id: int, config: EmailConfig, runtime: AdapterRuntime | None) -> _Watch | None:
        if runtime is None:
            return None
        with self._lock:
            self._stop_stale()
            watch = self._by_channel.get(channel_id)
            if watch is not None and (watch.config != config or watch._loop is not asyncio.get_running_loop()):
                watch.watcher.stop()
                watch = None
            if watch is None:
                watch = self._by_channel[channel_id] = _Watch(channel_id, config, runtime)
            watch.last_poll = time.monotonic()
            return watch

    def _stop_stale(self) -> None:
        now = time.monotonic()
        for channel_id, watch in list(self._by_channel.items()):
            if now - watch.last_poll > self.STALE:
                watch.watcher.stop()
                del self._by_channel[channel_id]

    def stop_all(self) -> None:
        with self._lock:
            for watch in self._by_channel.values():
                watch.watcher.stop()
            self._by_channel.clear()
        sessions.close_all()

    def get(self, channel_id: int) -> _Watch | None:
        return self._by_channel.get(channel_id)


_watchers = _Watchers()
sessions = imap.Sessions()  # the channels' kept IMAP logins (a poll reuses its channel's)
watchers = _watchers  # tests and shutdown reach them here
