"""Drains durable inbound items through the pipeline: identity → conversation → message → outbox.

One transaction per batch, a fixed number of statements per batch whatever its size. If a batch
fails, its items are retried one by one so that a single bad item is marked ``failed`` with its
error and never blocks the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_events
from okno.reviews.negative import ReviewTouch, flag_negative_reviews
from okno.reviews.reviewers import suggest_reviewer_matches
from okno.channels.answers import Touched, resolve_answers
from okno.channels.base import InboundItemModel, InboundMessage, InboundStatus
from okno.channels.interactive import Answer, answer_content
from okno.channels.items import merge_items
from okno.channels.kept_files import record_kept_files
from okno.channels.operator_copies import file_operator_copies
from okno.channels.thread_keys import follow_thread_refs, thread_key_of, threading_of
from okno.conversations.actors import CUSTOMER
from okno.conversations.channels_used import record_channels_used
from okno.conversations.statuses import ClaimedStatus, apply_statuses
from okno.conversations.threading import ConversationRef, Touch, thread_touches
from okno.customers.conflicts import record_conflicts
from okno.customers.evidence import keep_as_evidence
from okno.customers.matching.profiles import file_new_profiles
from okno.customers.identities import IdentityKey, InvalidIdentity, normalize_identity
from okno.customers.resolution import Sender, resolve_senders
from okno.customers.rules import rule_book, split_by_rules
from okno.kit.db import Database
from okno.kit.html import html_to_text, sanitize_html
from okno.kit.bulk import BulkInsert
from okno.kit.ids import allocate_ids, insert_with_ids
from okno.kit.time import utcnow
from okno.models import Direction, InboundItem, Message, MessageKind, MessageStatus, StatusType, TimelineEvent
from okno.surveys.replies import Incoming, SurveyReply, claim_survey_replies, settle_survey_replies

log = structlog.get_logger()

TEXT_PREVIEW = 200
BY_CUSTOMER = CUSTOMER.columns()  # what an inbound touch records is the customer's doing
_BY_CUSTOMER = (BY_CUSTOMER["actor_type"], BY_CUSTOMER["actor_ref"])  # as _TIMELINE's columns
_INBOUND, _RECEIVED = Direction.inbound.value, MessageStatus.received.value
PENDING = literal("pending", literal_execute=True)
_ITEM = TypeAdapter(InboundItemModel)
# rows go to the driver as tuples (okno.kit.bulk): no per-row parameter assembly by SQLAlchemy
_TIMELINE = BulkInsert(
    TimelineEvent.__table__,
    ("customer_id", "channel_id", "occurred_at", "actor_type", "actor_ref", "kind", "data", "conversation_id", "message_id"),
)
_MESSAGES = BulkInsert(
    Message.__table__,
    (
        "id", "conversation_id", "customer_id", "channel_id", "direction", "text", "attachments", "provider_message_id",
        "status", "kind", "subject", "html", "content", "actor_type", "actor_ref", "created_at", "status_updated_at",
    ),
)  # fmt: skip
# (column, what a row that leaves it out stores: its scalar default, else NULL), as ``run_dicts``
_MESSAGE_DEFAULTS = tuple(
    (name, col.default.arg if col.default is not None and col.default.is_scalar else None)
    for name in _MESSAGES.columns
    for col in (Message.__table__.c[name],)
)


@dataclass
class _Claimed:
    row_id: int
    channel_id: int
    item: InboundMessage
    received_at: datetime
    keys: tuple[IdentityKey, ...]
    rejected_keys: list[str]
    sources: tuple[str, ...] = ()  # how the adapter learnt each key (parallel to ``keys``)
    text: str = ""  # the plain text (from the HTML when the provider sent only HTML)
    html: str | None = None  # sanitised

    def __post_init__(self) -> None:
        self.text, self.html = message_body(self.item)


def message_body(item: InboundMessage) -> tuple[str, str | None]:
    """The plain text and the sanitised HTML to store (no HTML kept if nothing is left of it)."""
    if not item.html:
        return item.text, None
    html = sanitize_html(item.html) or None
    return (item.text or (html_to_text(html) if html else "")), html


class IngestProcessor:
    def __init__(self, db: Database, *, batch_size: int = 100, default_region: str = "RU") -> None:
        self.db = db
        self.batch_size = batch_size
        self.default_region = default_region

    async def drain_once(self) -> int:
        try:
            return await self._process(limit=self.batch_size)
        except Exception:
            log.exception("ingest_batch_failed_isolating")
        async with self.db.reading() as session:
            ids = (
                await session.execute(
                    select(InboundItem.id)
                    .where(InboundItem.status == PENDING)
                    .order_by(InboundItem.id)
                    .limit(self.batch_size)
                )
            ).scalars().all()
        for row_id in ids:  # one by one: a bad item fails alone
            try:
                await self._process(limit=1, only_id=row_id)
            except Exception as exc:
                await self._mark_failed(row_id, f"{type(exc).__name__}: {exc}")
        return len(ids)

    async def _process(self, *, limit: int, only_id: int | None = None) -> int:
        async with self.db.transaction() as session:
            claimed = await self._claim(session, limit, only_id)
            deferred = await self.apply(session, claimed)
            done = [c.row_id for c in claimed if c.row_id not in deferred]
            if done:
                await session.execute(update(InboundItem).where(InboundItem.id.in_(done)).values(status="done", processed_at=utcnow()))
        return len(claimed)

    async def apply(self, session: AsyncSession, prepared: list[_Claimed | ClaimedStatus]) -> set[int]:
        """Runs the pipeline in the caller's transaction; returns the item ids left ``deferred``."""
        messages = [c for c in prepared if isinstance(c, _Claimed)]
        statuses = [c for c in prepared if isinstance(c, ClaimedStatus)]
        if messages:
            await apply_inbound(session, messages)
        deferred = set(await apply_statuses(session, statuses)) if statuses else set()
        if deferred:
            await session.execute(
                update(InboundItem).where(InboundItem.id.in_(deferred)).values(status="deferred", processed_at=utcnow())
            )
        return deferred

    async def _claim(self, session: AsyncSession, limit: int, only_id: int | None) -> list[_Claimed | ClaimedStatus]:
        query = select(InboundItem.id, InboundItem.channel_id, InboundItem.item, InboundItem.received_at).where(
            InboundItem.status == PENDING  # inline literal: matches the partial index in any plan
        )
        if only_id is not None:
            query = query.where(InboundItem.id == only_id)
        rows = (
            await session.execute(query.order_by(InboundItem.id).limit(limit).with_for_update(skip_locked=True))
        ).all()
        return [self._from_row(*row) for row in rows]

    def _from_row(self, row_id: int, channel_id: int, data: dict, received_at: datetime) -> _Claimed | ClaimedStatus:
        try:
            item = _ITEM.validate_python(data)
        except ValidationError as exc:
            raise ValueError(f"stored item {row_id} is not a valid inbound item: {exc}") from exc
        return self.prepare(row_id, channel_id, item, received_at)

    def prepare(
        self, row_id: int, channel_id: int, item: InboundMessage | InboundStatus, received_at: datetime
    ) -> _Claimed | ClaimedStatus:
        if isinstance(item, InboundStatus):
            return ClaimedStatus(row_id, channel_id, item, received_at)
        keys, sources, rejected = sender_keys_and_sources(item, self.default_region)
        if not keys:
            raise ValueError("no usable sender identity: " + "; ".join(rejected))
        return _Claimed(row_id, channel_id, item, received_at, keys, rejected, sources)

    async def _mark_failed(self, row_id: int, error: str) -> None:
        log.error("inbound_item_failed", item_id=row_id, error=error)
        async with self.db.transaction() as session:
            await session.execute(
                update(InboundItem)
                .where(InboundItem.id == row_id, InboundItem.status == "pending")
                .values(status="failed", error=error[:4000], processed_at=utcnow())
            )


def sender_keys(item: InboundMessage, default_region: str) -> tuple[tuple[IdentityKey, ...], list[str]]:
    """The sender's normalised keys (strongest first, no repeats) and why any were refused."""
    keys, _, rejected = sender_keys_and_sources(item, default_region)
    return keys, rejected


def sender_keys_and_sources(item: InboundMessage, default_region: str) -> tuple[tuple[IdentityKey, ...], tuple[str, ...], list[str]]:
    # the item's private dict read directly: ``item._sender_keys`` goes through pydantic's
    # ``__getattr__`` (a Python call per access on the hot path)
    private = item.__pydantic_private__
    known = private.get("_sender_keys") if private is not None else None
    if known is not None and known[0] == default_region:
        return known[1]
    found = _sender_keys_and_sources(item, default_region)
    if private is not None:
        private["_sender_keys"] = (default_region, found)
    else:
        item._sender_keys = (default_region, found)
    return found


def _sender_keys_and_sources(item: InboundMessage, default_region: str) -> tuple[tuple[IdentityKey, ...], tuple[str, ...], list[str]]:
    keys: list[IdentityKey] = []
    sources: list[str] = []
    rejected: list[str] = []
    for sender in item.sender:
        try:
            key = normalize_identity(sender.kind, sender.value, default_region=default_region)
        except InvalidIdentity as exc:
            rejected.append(exc.detail)
            continue
        if key not in keys:
            keys.append(key)
            sources.append(sender.source)
    return tuple(keys), tuple(sources), rejected


async def apply_inbound(session: AsyncSession, claimed: list[_Claimed]) -> None:
    await record_kept_files(session, [(c.channel_id, c.item) for c in claimed])  # no statement unless an adapter kept files
    if any(c.item.operator_id is not None for c in claimed):  # rare: an operator's own copy, never a customer's touch
        await file_operator_copies(session, [c for c in claimed if c.item.operator_id is not None])
        claimed = [c for c in claimed if c.item.operator_id is None]
        if not claimed:
            return
    if any(c.item.item_key is not None for c in claimed):  # rare: a call's later events update its message
        claimed = await merge_items(session, claimed)  # type: ignore[arg-type,assignment]
        if not claimed:
            return
    book = await rule_book(session)  # cached: no query on most batches
    split = [split_by_rules(book, c.keys, c.sources) for c in claimed]
    resolution = await resolve_senders(  # first in the transaction to touch identities: may use the remembered owners
        session,
        [Sender(keys=proven, name=c.item.sender_name, channel_id=c.channel_id) for c, (proven, _) in zip(claimed, split, strict=True)],
        remembered=True,
    )
    # a survey's answer is filed on the survey's conversation, which it neither reopens nor replaces
    surveyed = await claim_survey_replies(
        session, [Incoming(ref.id, c.channel_id, c.item, ref.is_new) for c, ref in zip(claimed, resolution.customers, strict=True)]  # type: ignore[arg-type]
    )
    threading = await threading_of(session, {c.channel_id for c in claimed})  # cached: no query on most batches
    keys = await follow_thread_refs(  # no statement unless a message names earlier ones (e-mail replies)
        session,
        [(c.channel_id, ref.id, c.item.thread_refs) for c, ref in zip(claimed, resolution.customers, strict=True)],  # type: ignore[misc]
        [thread_key_of(c.item, threading[c.channel_id]) for c in claimed],
    )
    touches = [
        Touch(customer_id=ref.id, channel_id=c.channel_id, at=c.received_at, thread_key=key)  # type: ignore[arg-type]
        for c, ref, key, reply in zip(claimed, resolution.customers, keys, surveyed.replies, strict=True)
        if reply is None
    ]
    threaded = iter(await thread_touches(session, touches) if touches else [])
    conversations = [
        next(threaded) if reply is None else _survey_ref(reply, ref.id)  # type: ignore[arg-type]
        for ref, reply in zip(resolution.customers, surveyed.replies, strict=True)
    ]
    answers = await resolve_answers(
        session,
        [
            Touched(c.item, c.channel_id, conv.id, conv.customer_id)  # type: ignore[arg-type]
            for c, conv, reply in zip(claimed, conversations, surveyed.replies, strict=True)
            if reply is None
        ],
    ) if touches else []
    resolved_answers = iter(answers)
    answers = [next(resolved_answers) if reply is None else None for reply in surveyed.replies]
    message_ids = await _insert_messages(session, claimed, conversations, answers, surveyed.replies)
    # rare: no statement unless a customer wrote through another channel than the conversation began in
    await record_channels_used(
        session,
        ((conv.id, conv.channel_id, c.channel_id) for c, conv, reply in zip(claimed, conversations, surveyed.replies, strict=True) if reply is None),
        utcnow(),
    )

    timeline: list[tuple] = []  # in _TIMELINE's columns' order
    events: list[tuple[str, dict]] = []
    opened: set[int] = set()
    created: set[int] = set()
    clashes: list[tuple[IdentityKey, int, int]] = []
    actor_type, actor_ref = _BY_CUSTOMER
    for c, customer, conv, message_id, conflicts, fresh, answer, reply in zip(
        claimed, resolution.customers, conversations, message_ids, resolution.conflicts, resolution.new_identities, answers,
        surveyed.replies, strict=True,
    ):
        customer_id, channel_id, at = customer.id, c.channel_id, c.received_at  # a timeline row's first columns
        if customer.is_new and customer_id not in created:
            created.add(customer_id)  # type: ignore[arg-type]
            events.append(("customer.created", {"customer_id": customer_id}))
        for key in fresh:
            timeline.append((customer_id, channel_id, at, actor_type, actor_ref, "identity.added", {"identity": str(key)}, None, None))
        for conflict in conflicts:
            data = {"identity": str(conflict.key), "claimed_by_customer_id": conflict.other_customer.id}
            timeline.append((customer_id, channel_id, at, actor_type, actor_ref, "identity.conflict", data, conv.id, None))
            events.append(("identity.conflict", {"customer_id": customer_id, **data}))
            clashes.append((conflict.key, conflict.other_customer.id, customer_id))  # type: ignore[arg-type]
        # a message a machine sent (the adapter says so in its context: an auto-reply, a mailing
        # list, a bounce) is marked ``automatic`` in its events: automations never answer it (a mail loop)
        automatic = c.item.context.get("automatic") is True
        if conv.is_new and conv.id not in opened:
            opened.add(conv.id)  # type: ignore[arg-type]
            thread = _thread_of(conv)
            timeline.append((customer_id, channel_id, at, actor_type, actor_ref, "conversation.opened", thread, conv.id, None))
            opening = {"conversation_id": conv.id, "customer_id": customer_id, "channel_id": channel_id, **thread}
            if automatic:
                opening["automatic"] = True
            events.append(("conversation.opened", opening))
        elif conv.reopened_from:
            data = {"from": conv.reopened_from, "to": conv.status}
            timeline.append((customer_id, channel_id, at, actor_type, actor_ref, "conversation.status_changed", data, conv.id, None))
            events.append(("conversation.status_changed", _reopened(conv, customer_id)))
            conv.reopened_from = None
        timeline.append((customer_id, channel_id, at, actor_type, actor_ref, "message.received", _message_summary(c, answer), conv.id, message_id))
        if reply is not None:
            continue  # a survey answer: no customer waiting (settle_survey_replies records what it is)
        received = {"message_id": message_id, "conversation_id": conv.id, "customer_id": customer_id, "channel_id": channel_id}
        if automatic:
            received["automatic"] = True
        events.append(("message.received", received))
    # one executemany whatever the rows' shapes (the ORM bulk path splits on them)
    await _TIMELINE.run(session, timeline)
    await record_events(session, events)
    if surveyed.any():  # rare: no statement unless a survey was answered or ended
        await settle_survey_replies(session, surveyed, message_ids, [c.received_at for c in claimed])
    await record_conflicts(session, clashes)  # rare: no statement unless a key clashed
    evidence: dict[int, list[IdentityKey]] = {}
    for customer, (_, unproven) in zip(resolution.customers, split, strict=True):
        if unproven:
            evidence.setdefault(customer.id, []).extend(unproven)  # type: ignore[arg-type]
    await file_new_profiles(session, _new_customers(claimed, resolution))  # the matcher's index, same transaction
    await keep_as_evidence(session, evidence)  # rare: only when a rule refused a key (refreshes those profiles)
    reviews = [
        ReviewTouch(c.item.context, conv.id, conv.customer_id, c.channel_id, message_id)
        for c, conv, message_id in zip(claimed, conversations, message_ids, strict=True)
        if c.item.message_kind == MessageKind.review.value
    ]
    await flag_negative_reviews(session, reviews)  # no statement unless a review is 1–2 stars
    await suggest_reviewer_matches(session, reviews)  # no statement unless reviews came in


def _shape(answer: Answer | None, reply: SurveyReply | None, content: dict | None) -> int:
    """A message row's shape: plain (kind's default, no content), a call's facts, a chosen answer
    or a survey's reply (on PostgreSQL each shape goes in as its own statement)."""
    if reply is not None:
        return 3
    if answer is not None:
        return 2
    return 0 if content is None else 1


def _message_row(c: _Claimed, conv: ConversationRef) -> dict:
    """A plain message row as a mapping (PostgreSQL's ``insert_with_ids`` and the rare shapes)."""
    return {
        "conversation_id": conv.id,
        "customer_id": conv.customer_id,
        "channel_id": c.channel_id,
        "direction": _INBOUND,
        "text": c.text,
        "attachments": c.item.attachments,
        "provider_message_id": c.item.provider_message_id,
        "status": _RECEIVED,
        "kind": c.item.message_kind,
        "subject": c.item.subject,
        "html": c.html,
        **BY_CUSTOMER,
        "created_at": c.received_at,
        "status_updated_at": c.received_at,
    }


def _shaped(shape: int, row: dict, answer: Answer | None, reply: SurveyReply | None, content: dict | None) -> dict:
    if shape == 3:
        return _as_survey_reply(row, reply)  # type: ignore[arg-type]
    if shape == 2:
        return _as_answer(row, answer)  # type: ignore[arg-type]
    if shape == 1:
        return {**row, "content": content}
    return row


async def _insert_messages(
    session: AsyncSession,
    claimed: list[_Claimed],
    conversations: list[ConversationRef],
    answers: list[Answer | None],
    replies: list[SurveyReply | None],
) -> list[int]:
    """Inserts the batch's messages; their ids, in the batch's order. On SQLite the ids come with
    the counter read once per group (``prefetch_sequences``), and every row goes in with one
    executemany of tuples whatever its shape (a plain row, nearly all of them, built straight in
    ``_MESSAGES``'s column order). On PostgreSQL rows of one shape (the usual case) are one
    statement that returns the ids; mixed shapes (rare) take the ids first, then one statement."""
    shapes = [_shape(a, r, c.item.content) for c, a, r in zip(claimed, answers, replies, strict=True)]
    if session.bind.dialect.name == "postgresql" and len(set(shapes)) == 1:
        return await insert_with_ids(
            session,
            Message.__table__,
            [
                _shaped(shape, _message_row(c, conv), a, r, c.item.content)
                for shape, c, conv, a, r in zip(shapes, claimed, conversations, answers, replies, strict=True)
            ],
        )
    ids = await allocate_ids(session, Message.__table__, len(claimed))
    rows: list[tuple] = []
    for shape, c, conv, a, r, message_id in zip(shapes, claimed, conversations, answers, replies, ids, strict=True):
        if shape == 0:  # in _MESSAGES's column order; ``content`` NULL, as its default
            item, at = c.item, c.received_at
            rows.append(
                (
                    message_id, conv.id, conv.customer_id, c.channel_id, _INBOUND, c.text, item.attachments,
                    item.provider_message_id, _RECEIVED, item.message_kind, item.subject, c.html, None, *_BY_CUSTOMER, at, at,
                )
            )  # fmt: skip
        else:
            row = _shaped(shape, _message_row(c, conv), a, r, c.item.content)
            row["id"] = message_id
            rows.append(tuple(row.get(name, default) for name, default in _MESSAGE_DEFAULTS))
    await _MESSAGES.run(session, rows)
    return ids


def _new_customers(claimed: list[_Claimed], resolution) -> list[tuple[int, str, list[tuple[str, str]]]]:  # noqa: ANN001
    found: dict[int, tuple[int, str, list[tuple[str, str]]]] = {}
    for _claim, customer, fresh in zip(claimed, resolution.customers, resolution.new_identities, strict=True):
        if customer.is_new:
            entry = found.setdefault(customer.id, (customer.id, customer.name, []))
            entry[2].extend((k.kind, k.value) for k in fresh)
    return list(found.values())


def _as_answer(row: dict, answer: Answer) -> dict:
    return {**row, "text": row["text"] or answer.title, "kind": MessageKind.answer.value, "content": answer_content(answer)}


def _as_survey_reply(row: dict, reply: SurveyReply) -> dict:
    kind = MessageKind.answer.value if reply.answer is not None else MessageKind.message.value  # a score, or a stale button
    return {**row, "text": row["text"] or (reply.answer.title if reply.answer else ""), "kind": kind, "content": reply.content()}


def _survey_ref(reply: SurveyReply, customer_id: int) -> ConversationRef:
    """The survey's conversation as it is: no reopen, no activity recorded."""
    return ConversationRef(
        id=reply.conversation_id, customer_id=customer_id, status=reply.conversation_status,
        status_type=reply.conversation_status_type, channel_id=reply.conversation_channel_id,
    )  # fmt: skip


def _thread_of(conv: ConversationRef) -> dict:
    thread: dict = {}
    if conv.thread_key is not None:
        thread["thread_key"] = conv.thread_key
    if conv.follow_up_of is not None:
        thread["follow_up_of"] = conv.follow_up_of
    return thread


def _reopened(conv: ConversationRef, customer_id: int) -> dict:
    """The customer's touch reopened a waiting or resolved conversation: the same event an
    operator's status change emits (queues, SLA clocks and auto-close follow it)."""
    return {
        "conversation_id": conv.id,
        "customer_id": customer_id,
        "by": None,
        "from": conv.reopened_from,
        "to": conv.status,
        "type": StatusType.open.value,
        "reason": conv.reason,
        "comment": None,
        "status": conv.status,
    }


def _message_summary(claimed: _Claimed, answer: Answer | None = None) -> dict:
    summary = {"text": (claimed.text or (answer.title if answer else ""))[:TEXT_PREVIEW], "attachments": len(claimed.item.attachments)}
    if answer is not None:
        summary["answer"] = answer_content(answer)["answer"]
    if claimed.item.message_kind != MessageKind.message.value:
        summary["kind"] = claimed.item.message_kind
    if claimed.item.subject:
        summary["subject"] = claimed.item.subject[:TEXT_PREVIEW]
    if claimed.item.context:
        summary["context"] = claimed.item.context
    if claimed.rejected_keys:
        summary["ignored_identities"] = claimed.rejected_keys
    return summary
