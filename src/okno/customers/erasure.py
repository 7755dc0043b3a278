"""Erasing a customer's personal data (a data-subject request), in one transaction.

Who is erased: the profile asked for **and every profile merged into the same person** — the
live survivor the id resolves to and every tombstone merged into it, transitively. A merge says
two profiles are one person, and the merged-away profiles' rows (conversations, messages,
timeline) already sit on the survivor. Profiles a merge was undone for are separate people and
stay.

What is removed or emptied (docs/data-subject-requests.md lists it with the reasons):
- the profiles' names and attributes (the ``customers`` rows stay as anonymous tombstones with
  ``erased_at`` set, so reports still count their conversations); their identities (so the
  same phone writing again is a stranger and gets a new customer);
- every message's text, HTML, subject, content, error and attachments (``redacted_at`` set),
  the files okno stored for them (``stored_files`` rows; the bytes on disk once no other row
  points at them, after the commit), queued replies not yet sent (their delivery fails);
- the raw inbound items those messages came from (``inbound_items.raw`` and ``item``) and the
  words in the widget streams (``visitor_events``) of the profiles' website visitor ids;
- the matcher's rows (profile, blocking keys, the term counts of its values), merge
  suggestions, merge records, identity conflicts;
- automation webhook call bodies; survey comments in the reports' tables; the words in timeline entries and outbox payloads
  (:func:`okno.customers.redaction.scrubbed`: ids, counts and codes stay).

Conversations stay (times, channel, team, assignee, SLA results), so every count and duration
in reports is unchanged; unfinished ones are closed (nobody is left to answer, and an open one
would wait in a queue with its SLA clock running). The audit log keeps ``customer.erased`` with the reason.

Erasing an erased person again is allowed and does the same again (it finds what arrived since,
e.g. a message an ingest transaction committed just after the first erase); the audit entry
says ``again``.

The caller owns the transaction (:func:`erase_customer`); :func:`erase_customer_data` is the
whole request: the transaction, then the files and, on SQLite, a WAL checkpoint so no copy of
the old pages survives in the ``-wal`` file (``secure_delete`` zeroes freed space in the
database file itself: :mod:`okno.kit.db`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.customers.matching.profiles import file_profiles, term_changes
from okno.customers.merge import live_customer_id
from okno.conversations.lifecycle import change_conversation_status
from okno.customers.redaction import drop_stored_files, redact_messages, redact_raw_items, rewrite_json
from okno.kit.audit import audit
from okno.kit.blobs import BlobStore
from okno.kit.db import Database, checkpoint_wal
from okno.kit.errors import Invalid, NotFound
from okno.kit.time import utcnow
from okno.models import (
    UNFINISHED_TYPES,
    ActorType,
    Conversation,
    ConversationStatus,
    ReportSurvey,
    Customer,
    CustomerMerge,
    DeliveryJob,
    Identity,
    IdentityConflict,
    IdentityVerification,
    InboundItem,
    MatchProfile,
    MatchSuggestion,
    MatchTerm,
    Message,
    MessageStatus,
    OutboxEvent,
    StatusDefinition,
    TimelineEvent,
    VisitorEvent,
    WebhookCall,
)

log = structlog.get_logger()

ERASED_REASON = "customer erased"
VISITOR_KIND = "web"  # the website widget's visitor ids (the key of a visitor's stream)
# outbox topics whose payloads may carry words or keys of a person, and how to find them
_OUTBOX_BY_CUSTOMER = ("identity.conflict", "customer.merged", "customer.unmerged", "customer.attributes_changed")
_OUTBOX_BY_CONFLICT = ("identity_conflict.resolved",)
MAX_REASON = 2000
CHUNK = 500


@dataclass
class Erasure:
    customer_id: int  # the live profile the request resolved to
    customers: list[int]  # every profile erased (the survivor and those merged into it)
    counts: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # blob keys no row points at any more


async def erase_customer_data(db: Database, blobs: BlobStore | None, customer_id: int, *, actor_id: int | None, reason: str) -> Erasure:
    """The whole request: erase in one transaction, then delete the files no row needs and, on
    SQLite, checkpoint the WAL so the old pages leave the ``-wal`` file."""
    async with db.transaction() as session:
        erasure = await erase_customer(session, customer_id, actor_id=actor_id, reason=reason)
    if blobs is not None:
        for key in erasure.files:
            blobs.delete(key)
    if db.is_sqlite:
        busy, _, _ = await checkpoint_wal(db)
        if busy:  # a reader's open snapshot: the next checkpoint moves and cuts the rest
            log.warning("erase_checkpoint_incomplete", customer_id=erasure.customer_id)
    return erasure


async def erase_customer(session: AsyncSession, customer_id: int, *, actor_id: int | None, reason: str) -> Erasure:
    reason = reason.strip()
    if not reason:
        raise Invalid("reason is required: say why the data is erased (e.g. the request's reference)")
    if len(reason) > MAX_REASON:
        raise Invalid("reason is longer than %(num)s character", plural="reason is longer than %(num)s characters", num=MAX_REASON)
    if "\x00" in reason:
        raise Invalid("reason contains a NUL character")
    if await session.get(Customer, customer_id) is None:
        raise NotFound("%(what)s %(id)s not found", what="customer", id=customer_id)
    root = await live_customer_id(session, customer_id)
    chain = await _same_person(session, root)
    customers = await _lock(session, chain)
    now = utcnow()
    erasure = Erasure(customer_id=root, customers=chain)
    counts = erasure.counts
    visitors = await _visitors(session, chain)  # read once: the widget's rows are found by them
    counts["raw_items"] = await _redact_raw_items(session, chain, visitors, now)
    counts["visitor_events"] = await _scrub_visitor_streams(session, visitors)
    erasure.files, counts["files"] = await drop_stored_files(session, Message.customer_id.in_(chain))
    counts["replies_cancelled"] = await _cancel_queued_replies(session, chain)
    counts["messages"] = (await session.execute(redact_messages(and_(Message.customer_id.in_(chain), Message.redacted_at.is_(None)), now))).rowcount
    counts["timeline"] = await _scrub_timeline(session, chain)
    counts["outbox"] = await _scrub_outbox(session, chain)
    counts["webhook_calls"] = await _empty_webhook_calls(session, chain)
    # survey comments the reports keep (the scores and times stay, like the conversations)
    await session.execute(update(ReportSurvey).where(ReportSurvey.customer_id.in_(chain), ReportSurvey.comment.is_not(None)).values(comment=None))
    await _drop_matcher_rows(session, chain)
    counts["verifications"] = await _drop_verifications(session, chain, visitors)
    counts["identities"] = (await session.execute(delete(Identity).where(Identity.customer_id.in_(chain)))).rowcount
    counts["conversations_closed"] = await _close_unfinished(session, chain, actor_id)
    again = any(c.erased_at is not None for c in customers.values())
    for customer in customers.values():
        customer.name, customer.attributes, customer.updated_at = "", {}, now
        customer.erased_at = customer.erased_at or now
    # the tombstone's timeline says why its conversations are blank (the reason stays in the audit log)
    session.add(TimelineEvent(customer_id=root, actor_id=actor_id, actor_type=_actor_type(actor_id), kind="customer.erased", data={"customers": chain}))
    summary = {"reason": reason, "customers": chain, "counts": counts, "again": again}
    await audit(session, actor_id=actor_id, action="customer.erased", subject=("customer", root), data=summary)
    await session.flush()
    return erasure


async def _close_unfinished(session: AsyncSession, chain: list[int], actor_id: int | None) -> int:
    """The profiles' unfinished conversations are closed: with no identity left nobody can be
    answered, and an open one would wait in a queue and run its SLA clock for no one."""
    unfinished = [t.value for t in UNFINISHED_TYPES]
    ids = list(
        await session.scalars(
            select(Conversation.id)
            .join(StatusDefinition, StatusDefinition.key == Conversation.status)
            .where(Conversation.customer_id.in_(chain), StatusDefinition.type.in_(unfinished))
            .order_by(Conversation.id)
        )
    )
    for conversation_id in ids:
        await change_conversation_status(
            session,
            conversation_id=conversation_id,
            status=ConversationStatus.closed.value,
            reason=None,
            comment=ERASED_REASON,
            actor_id=actor_id,
        )
    return len(ids)


def _actor_type(actor_id: int | None) -> str:
    return ActorType.operator.value if actor_id is not None else ActorType.system.value


# ---- who ------------------------------------------------------------------------------------


async def _same_person(session: AsyncSession, root: int) -> list[int]:
    """``root`` and every profile merged into it, transitively (merged-away tombstones)."""
    found, frontier = {root}, [root]
    while frontier:
        rows = await session.scalars(select(Customer.id).where(Customer.merged_into_id.in_(frontier)))
        frontier = [cid for cid in rows.all() if cid not in found]
        found.update(frontier)
    return sorted(found)


async def _lock(session: AsyncSession, chain: list[int]) -> dict[int, Customer]:
    query = select(Customer).where(Customer.id.in_(chain)).order_by(Customer.id)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update()  # waits for ingest transactions adding rows for them
    return {c.id: c for c in (await session.scalars(query)).all()}


# ---- what -----------------------------------------------------------------------------------


async def _redact_raw_items(session: AsyncSession, chain: list[int], visitors: list[tuple[int | None, str]], now: Any) -> int:
    """The raw items the customer's inbound messages came from: found by channel, the time the
    item was stored (a message's ``created_at`` is its item's ``received_at``) and the
    provider's message id inside the normalised item."""
    rows = await session.execute(
        select(Message.channel_id, Message.created_at, Message.provider_message_id).where(
            Message.customer_id.in_(chain), Message.direction == "in", Message.channel_id.is_not(None), Message.provider_message_id.is_not(None)
        )
    )
    by_channel: dict[int, list[tuple[Any, str]]] = {}
    for channel_id, created_at, provider_message_id in rows:
        by_channel.setdefault(channel_id, []).append((created_at, provider_message_id))
    redacted = 0
    for channel_id, pairs in by_channel.items():
        for start in range(0, len(pairs), CHUNK):  # bounded IN lists (SQLite's variable limit)
            chunk = pairs[start : start + CHUNK]
            wanted = {pid for _, pid in chunk}
            # the normalised item is sealed at rest: candidates by channel and time, then the
            # provider's id compared in memory
            candidates = await session.execute(
                select(InboundItem.id, InboundItem.item).where(
                    InboundItem.channel_id == channel_id,
                    InboundItem.received_at.in_(sorted({at for at, _ in chunk})),
                    InboundItem.redacted_at.is_(None),
                )
            )
            ids = [item_id for item_id, item in candidates if (item or {}).get("provider_message_id") in wanted]
            if ids:
                redacted += (await session.execute(redact_raw_items(InboundItem.id.in_(ids), now))).rowcount
    for channel_id, visitor in visitors:  # the widget's items, whatever they became
        where = and_(InboundItem.channel_id == channel_id, InboundItem.provider_id.startswith(f"web:{visitor}:", autoescape=True), InboundItem.redacted_at.is_(None))
        redacted += (await session.execute(redact_raw_items(where, now))).rowcount
    return redacted


async def _visitors(session: AsyncSession, chain: list[int]) -> list[tuple[int | None, str]]:
    rows = await session.execute(
        select(Identity.source_channel_id, Identity.value).where(Identity.customer_id.in_(chain), Identity.kind == VISITOR_KIND)
    )
    return [(channel_id, value) for channel_id, value in rows]


async def _scrub_visitor_streams(session: AsyncSession, visitors: list[tuple[int | None, str]]) -> int:
    """The words in the widget streams of the profiles' visitor ids; the rows and their numbers
    stay, so a widget that reconnects with its last ``seq`` still gets what comes next."""
    visitor_ids = sorted({value for _, value in visitors})
    if not visitor_ids:
        return 0
    rows = (await session.execute(select(VisitorEvent.id, VisitorEvent.payload).where(VisitorEvent.visitor_id.in_(visitor_ids)))).all()
    return await rewrite_json(session, VisitorEvent.__table__, "payload", rows)


async def _drop_verifications(session: AsyncSession, chain: list[int], visitors: list[tuple[int | None, str]]) -> int:
    """One-time codes sent to prove a key of theirs, or asked for by their widget visitors."""
    visitor_ids = sorted({value for _, value in visitors})
    mine = IdentityVerification.owner_id.in_(chain)
    if visitor_ids:
        mine = or_(mine, and_(IdentityVerification.requester_kind == VISITOR_KIND, IdentityVerification.requester_value.in_(visitor_ids)))
    return (await session.execute(delete(IdentityVerification).where(mine))).rowcount


async def _cancel_queued_replies(session: AsyncSession, chain: list[int]) -> int:
    queued = select(Message.id).where(Message.customer_id.in_(chain), Message.status == MessageStatus.queued.value).scalar_subquery()
    result = await session.execute(
        update(DeliveryJob).where(DeliveryJob.message_id.in_(queued), DeliveryJob.status == "pending").values(status="failed", last_error=ERASED_REASON)
    )
    await session.execute(
        update(Message).where(Message.customer_id.in_(chain), Message.status == MessageStatus.queued.value).values(status=MessageStatus.failed.value)
    )
    return result.rowcount


async def _scrub_timeline(session: AsyncSession, chain: list[int]) -> int:
    rows = (await session.execute(select(TimelineEvent.id, TimelineEvent.data).where(TimelineEvent.customer_id.in_(chain)))).all()
    return await rewrite_json(session, TimelineEvent.__table__, "data", rows)


async def _scrub_outbox(session: AsyncSession, chain: list[int]) -> int:
    conflicts = list(
        await session.scalars(select(IdentityConflict.id).where(or_(IdentityConflict.owner_id.in_(chain), IdentityConflict.claimant_id.in_(chain))))
    )
    # payloads are sealed at rest: the rows of the topics that name a customer or a conflict are
    # read and the ones about this person picked in memory
    wanted = {**dict.fromkeys(_OUTBOX_BY_CUSTOMER, ("customer_id", set(chain)))}
    wanted.update(dict.fromkeys(("customer.merged", "customer.unmerged"), ("survivor_id", set(chain))))
    wanted.update(dict.fromkeys(_OUTBOX_BY_CONFLICT, ("conflict_id", set(conflicts))))
    found = await session.execute(select(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.payload).where(OutboxEvent.topic.in_(sorted(wanted))))
    rows = [(row_id, body) for row_id, topic, body in found if (body or {}).get(wanted[topic][0]) in wanted[topic][1]]
    return await rewrite_json(session, OutboxEvent.__table__, "payload", rows)


async def _empty_webhook_calls(session: AsyncSession, chain: list[int]) -> int:
    result = await session.execute(update(WebhookCall).where(WebhookCall.customer_id.in_(chain)).values(body=""))
    await session.execute(
        update(WebhookCall).where(WebhookCall.customer_id.in_(chain), WebhookCall.status == "pending").values(status="failed", last_error=ERASED_REASON)
    )
    return result.rowcount


async def _drop_matcher_rows(session: AsyncSession, chain: list[int]) -> None:
    """The matcher's profile, blocking keys and term counts; suggestions, merges, conflicts."""
    old = dict((await session.execute(select(MatchProfile.customer_id, MatchProfile.fields).where(MatchProfile.customer_id.in_(chain)))).all())
    await file_profiles(session, chain, old, {})
    terms = [key for key in term_changes(old.values(), []) if key]
    if terms:  # a value no profile holds any more leaves the term table too
        await session.execute(
            delete(MatchTerm).where(or_(*(and_(MatchTerm.field == f, MatchTerm.value == v) for f, v in terms)), MatchTerm.count <= 0)
        )
    await session.execute(
        delete(MatchSuggestion).where(or_(MatchSuggestion.customer_id.in_(chain), MatchSuggestion.other_customer_id.in_(chain)))
    )
    await session.execute(delete(IdentityConflict).where(or_(IdentityConflict.owner_id.in_(chain), IdentityConflict.claimant_id.in_(chain))))
    await session.execute(delete(CustomerMerge).where(or_(CustomerMerge.survivor_id.in_(chain), CustomerMerge.merged_id.in_(chain))))

