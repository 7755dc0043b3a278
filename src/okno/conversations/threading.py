"""Which conversation a new inbound touch belongs to.

A touch without a thread key (messengers: the channel threads per customer) continues the
customer's unfinished conversation that no thread owns, whichever such channel it comes from;
one waiting (a status of type pending or on hold) is reopened (which ends a snooze). Otherwise a
new conversation is opened.

A touch with a thread key (an e-mail thread's root Message-ID, a call, a review, an API
integration's thread id) goes to the newest conversation of the same customer with the same
(channel, thread key), never to the customer's messenger conversation:

- unfinished: it continues; waiting: it is reopened (as above);
- resolved (a status of type resolved): it is **reopened** — a reply in a thread the team
  thought done is the same problem coming back, so it returns to the same conversation, its
  assignee and its history, and counts as a reopen;
- closed (a status of type closed: final, e.g. auto-closed after days of waiting): a **new
  follow-up conversation** is opened in the same thread, linked to the closed one
  (``follow_up_of``); a closed conversation is never reopened by a customer.

Thread keys are matched within the customer: a key someone else knows (a Message-ID in a
forwarded e-mail) never attaches a touch to another customer's conversation.

"Unfinished", "waiting", "resolved" and "closed" are status *types*, so custom statuses count.
A batch costs a fixed number of statements: one lookup per kind of touch present, one insert of
the new conversations (their activity times set in it), one update of the ones that existed (and
one more only when some reopen). On SQLite a customer whose ongoing chat the process remembers
needs no lookup: one checked update records the touch (see "remembered per process" below).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, partial
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import Select, bindparam, case, event, select, update
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.bulk import BulkInsert, driver_sql
from okno.kit.ids import allocate_ids, insert_with_ids
from okno.models import ACTIVE_TYPES, UNFINISHED_TYPES, Conversation, ConversationStatus, Priority, StatusDefinition, StatusType

_WAITING_TYPES = frozenset({StatusType.pending.value, StatusType.on_hold.value})


@dataclass(eq=False)
class ConversationRef:
    id: int | None
    customer_id: int
    status: str
    is_new: bool = False
    reopened_from: str | None = None
    status_type: str = StatusType.open.value
    thread_key: str | None = None
    follow_up_of: int | None = None  # the closed conversation of the same thread this one follows
    reason: str | None = None
    channel_id: int | None = None  # the channel it began in (a touch from another one is recorded as used)


@dataclass(slots=True)  # one per message: a frozen dataclass's __init__ costs three times as much
class Touch:
    customer_id: int
    channel_id: int
    at: datetime
    thread_key: str | None = None  # None: the channel threads per customer


async def thread_touches(session: AsyncSession, touches: list[Touch]) -> list[ConversationRef]:
    chats = {t.customer_id for t in touches if t.thread_key is None}
    known = await touch_known_chats(session, [t for t in touches if t.thread_key is None])
    by_customer = known | await _unfinished_by_customer(session, chats - known.keys())
    by_thread = await _latest_by_thread(session, {(t.channel_id, t.thread_key) for t in touches if t.thread_key is not None})
    refs: list[ConversationRef] = []
    new: list[tuple[ConversationRef, Touch]] = []
    for touch in touches:
        if touch.thread_key is None:
            current, slot = by_customer, touch.customer_id
        else:
            current, slot = by_thread, (touch.channel_id, touch.thread_key, touch.customer_id)
        ref = current.get(slot)
        if ref is None or ref.status_type == StatusType.closed.value:
            ref = ConversationRef(
                id=None,
                customer_id=touch.customer_id,
                status=ConversationStatus.open,
                is_new=True,
                thread_key=touch.thread_key,
                follow_up_of=ref.id if ref is not None else None,
                channel_id=touch.channel_id,
            )
            current[slot] = ref
            new.append((ref, touch))
        elif ref.status_type in _WAITING_TYPES or ref.status_type == StatusType.resolved.value:
            ref.reopened_from, ref.status = ref.status, ConversationStatus.open
            ref.status_type = StatusType.open.value
        refs.append(ref)
    latest: dict[int, tuple[ConversationRef, datetime]] = {}
    for ref, touch in zip(refs, touches, strict=True):
        latest[id(ref)] = (ref, touch.at)
    await _open(session, new, latest)
    touched = {id(ref) for ref in known.values()}  # their activity is recorded already
    await _record_activity(session, [(ref, at) for ref, at in latest.values() if not ref.is_new and id(ref) not in touched])
    remember_chats(session, [ref for ref in refs if ref.thread_key is None])
    return refs


# --- the customers' ongoing chats, remembered per process (SQLite) ----------------------------
#
# Nearly every webhook message comes from a customer whose chat (the unfinished conversation no
# thread owns) is ongoing: the lookup above would find it and the touch only records activity.
# Each process remembers, per customer, the chat it last saw ongoing (a status of type new or
# open). A batch touches those with ONE UPDATE whose WHERE is what the lookup would have
# decided, checked inside the writer's transaction: the same conversation, still this
# customer's, still threadless, on the same channel, with the same status, of type new or open,
# and no newer unfinished chat of the customer (another process's, an operator's). On SQLite a
# writer transaction excludes every other writer, process or not, so what the UPDATE saw holds
# until commit. If any row does not match (resolved, snoozed, merged away, erased, a newer
# chat), those customers are forgotten and the batch takes the lookup: the rows the UPDATE did
# change get the same values again, so what is written is what the lookup path writes.
# PostgreSQL keeps the lookup (an executemany's row count is not reliable through asyncpg).

_CHATS: WeakKeyDictionary[object, dict[int, tuple[int, str, int | None]]] = WeakKeyDictionary()  # per engine
_CHATS_KEPT = 200_000
_ONGOING = tuple(t.value for t in ACTIVE_TYPES)  # no reopen: the touch only records activity
_TOUCH_KNOWN_CHAT = (
    "UPDATE conversations SET last_message_at = ?, last_inbound_at = ?, updated_at = ?"
    " WHERE id = ? AND customer_id = ? AND status = ? AND channel_id IS ? AND thread_key IS NULL"
    ' AND EXISTS (SELECT 1 FROM conversation_statuses WHERE conversation_statuses."key" = conversations.status'
    f" AND conversation_statuses.type IN ({', '.join(['?'] * len(_ONGOING))}))"
    " AND NOT EXISTS (SELECT 1 FROM conversations AS later"
    ' JOIN conversation_statuses AS later_status ON later_status."key" = later.status'
    " WHERE later.customer_id = conversations.customer_id AND later.id > conversations.id AND later.thread_key IS NULL"
    f" AND later_status.type IN ({', '.join(['?'] * len(UNFINISHED_TYPES))}))"
)


def _chats(session: AsyncSession) -> dict[int, tuple[int, str, int | None]] | None:
    """This process's remembered chats for the session's database (None: not remembered here)."""
    bind = session.bind
    if bind.dialect.name != "sqlite":
        return None
    engine = getattr(bind, "sync_engine", bind)
    chats = _CHATS.get(engine)
    if chats is None:
        chats = _CHATS[engine] = {}
        event.listen(engine, "before_cursor_execute", partial(_forget_on_change, chats))
    elif len(chats) >= _CHATS_KEPT:
        chats.clear()
    return chats


def _forget_on_change(chats: dict, _conn: object, _cursor: object, statement: str, *_: object) -> None:
    """Any other change of conversations this process sends (an operator's status change, a
    merge, an erasure) forgets the remembered chats: the next batch looks them up instead of
    finding out with a touch that matches nothing (one more statement). What other processes
    change, the touch's WHERE finds out.

    Every statement of the engine passes here, not only those of the code that changes
    conversations: that code is spread over many modules and mostly ORM flushes, which a hook per
    code path would have to find and keep finding, while this costs one call and a prefix test a
    statement (~0.3 µs measured; a group commit of ~30 messages runs about a dozen: ~0.1 µs a
    message). Only an optimisation rests on it (the touch's WHERE keeps a missed change correct)."""
    if chats and statement.startswith(_CHANGES) and statement not in _OWN:
        chats.clear()


async def touch_known_chats(session: AsyncSession, touches: list[Touch]) -> dict[int, ConversationRef]:
    """Records the activity of the touches whose customer's chat is remembered and still what the
    lookup would find; their refs by customer. Empty (nothing written that the lookup path will
    not write again) when any of them no longer is."""
    chats = _chats(session)
    if not chats:
        return {}
    refs: dict[int, ConversationRef] = {}
    latest: dict[int, datetime] = {}
    for touch in touches:
        known = chats.get(touch.customer_id)
        if known is not None:
            conv_id, status, channel_id = known
            if touch.customer_id not in refs:
                refs[touch.customer_id] = ConversationRef(id=conv_id, customer_id=touch.customer_id, status=status, channel_id=channel_id)
            latest[touch.customer_id] = touch.at  # the batch's last touch of each, as the lookup path records
    if not refs:
        return {}
    processor = _AT.bind_processor(session.bind.dialect)
    rows = []
    last, text = None, None  # a group's touches share a few instants (the same object): each processed once
    for customer_id, ref in refs.items():
        instant = latest[customer_id]
        if instant is not last:
            last, text = instant, (processor(instant) if processor is not None else instant)
        rows.append((text, text, text, ref.id, customer_id, ref.status, ref.channel_id, *_CHECKED))
    result = await driver_sql(session, _TOUCH_KNOWN_CHAT, rows)
    if result.rowcount == len(rows):
        return refs
    for customer_id in refs:  # some changed: the lookup decides for all of them
        chats.pop(customer_id, None)
    return {}


def remember_chats(session: AsyncSession, refs: list[ConversationRef]) -> None:
    """After a batch: the customers' chats that are ongoing (a touch leaves them open or new)."""
    chats = _chats(session)
    if chats is None:
        return
    for ref in refs:
        if ref.id is not None and ref.status_type in _ONGOING:
            chats[ref.customer_id] = (ref.id, str(ref.status), ref.channel_id)
        else:
            chats.pop(ref.customer_id, None)




# prepared once (SQLAlchemy reuses the compiled form; each batch brings only its parameters), on
# table columns so the session runs it as a Core statement (no ORM compile state or loading)
_CONVERSATIONS, _STATUSES = Conversation.__table__, StatusDefinition.__table__
_UNFINISHED_BY_CUSTOMER = (
    select(
        _CONVERSATIONS.c.id, _CONVERSATIONS.c.customer_id, _CONVERSATIONS.c.status, _STATUSES.c.type,
        _CONVERSATIONS.c.reason, _CONVERSATIONS.c.channel_id,
    )
    .join(_STATUSES, _STATUSES.c.key == _CONVERSATIONS.c.status)
    .where(
        _CONVERSATIONS.c.customer_id.in_(bindparam("customer_ids", expanding=True)),
        _STATUSES.c.type.in_([t.value for t in UNFINISHED_TYPES]),
        _CONVERSATIONS.c.thread_key.is_(None),  # a thread (an e-mail chain, a call) is never a chat's continuation
    )
    .order_by(_CONVERSATIONS.c.id)
)  # fmt: skip


_UNFINISHED = tuple(t.value for t in UNFINISHED_TYPES)
_CHECKED = (*_ONGOING, *_UNFINISHED)  # the touch's last parameters, the same for every row


@cache
def _unfinished_sqlite(customers: int) -> str:
    """``_UNFINISHED_BY_CUSTOMER`` as SQLAlchemy renders it for SQLite with this many customers'
    placeholders (its expanding ``IN`` rendered once per count, not per batch); it binds
    ``(*customer_ids, *_UNFINISHED)`` in that order, which is checked here."""
    expanded = _UNFINISHED_BY_CUSTOMER.compile(dialect=sqlite_dialect()).construct_expanded_state(
        {"customer_ids": list(range(customers))}
    )
    if tuple(expanded.positional_parameters) != (*range(customers), *_UNFINISHED):
        raise RuntimeError("the unfinished-chat lookup no longer binds (*customer_ids, *unfinished types)")
    return expanded.statement


async def _unfinished_by_customer(session: AsyncSession, customer_ids: set[int]) -> dict[int, ConversationRef]:
    if not customer_ids:
        return {}
    if session.bind.dialect.name == "sqlite":  # straight to the driver: no rendering of the expanding IN per batch
        rows = await driver_sql(session, _unfinished_sqlite(len(customer_ids)), (*sorted(customer_ids), *_UNFINISHED))
    else:
        rows = await session.execute(_UNFINISHED_BY_CUSTOMER, {"customer_ids": sorted(customer_ids)})
    # the newest unfinished conversation wins if a customer somehow has several
    return {
        cid: ConversationRef(id=conv_id, customer_id=cid, status=status, status_type=kind, reason=reason, channel_id=channel_id)
        for conv_id, cid, status, kind, reason, channel_id in rows
    }


async def _latest_by_thread(
    session: AsyncSession, threads: set[tuple[int, str]]
) -> dict[tuple[int, str, int], ConversationRef]:
    """The newest conversation of each (channel, thread key, customer), whatever its status."""
    if not threads:
        return {}
    rows = await session.execute(thread_lookup(threads))
    return {
        (channel_id, key, cid): ConversationRef(
            id=conv_id, customer_id=cid, status=status, status_type=kind, thread_key=key, reason=reason, channel_id=channel_id
        )
        for conv_id, channel_id, key, cid, status, kind, reason in rows
        if (channel_id, key) in threads
    }


def thread_lookup(threads: set[tuple[int, str]]) -> Select:
    """The conversations of these (channel, thread key) pairs, oldest first: an index search.
    (Both columns by ``IN``: SQLite searches the index that way, but scans it for a row-value
    ``IN``; the few extra pairs of the cross product are dropped by the caller.)"""
    return (
        select(
            Conversation.id,
            Conversation.channel_id,
            Conversation.thread_key,
            Conversation.customer_id,
            Conversation.status,
            StatusDefinition.type,
            Conversation.reason,
        )
        .join(StatusDefinition, StatusDefinition.key == Conversation.status)
        .where(Conversation.channel_id.in_(sorted({c for c, _ in threads})), Conversation.thread_key.in_(sorted({k for _, k in threads})))
        .order_by(Conversation.id)
    )


async def _open(
    session: AsyncSession, new: list[tuple[ConversationRef, Touch]], latest: dict[int, tuple[ConversationRef, datetime]]
) -> None:
    """Inserts the new conversations with their activity already set (the batch's last touch of
    each), so they need no touch-up afterwards; one statement. PostgreSQL: the ids come back from
    it; SQLite: they are taken first and the rows go to the driver as tuples (``okno.kit.bulk``)."""
    if not new:
        return
    if session.bind.dialect.name == "sqlite":
        ids = await allocate_ids(session, _CONVERSATIONS, len(new))
        rows = []
        for (ref, t), conv_id in zip(new, ids, strict=True):
            last = latest[id(ref)][1]
            rows.append((conv_id, t.customer_id, t.channel_id, _OPEN_STATUS, _NORMAL, t.at, last, last, last, t.thread_key, [], []))
        await _OPEN.run(session, rows)
    else:
        ids = await insert_with_ids(
            session,
            _CONVERSATIONS,
            [
                {
                    "customer_id": t.customer_id,
                    "channel_id": t.channel_id,
                    "status": _OPEN_STATUS,
                    "priority": _NORMAL,
                    "created_at": t.at,
                    "updated_at": latest[id(ref)][1],
                    "last_message_at": latest[id(ref)][1],
                    "last_inbound_at": latest[id(ref)][1],
                    "thread_key": t.thread_key,
                }
                for ref, t in new
            ],
        )
    for (ref, _), conv_id in zip(new, ids, strict=True):
        ref.id = conv_id


_OPEN_STATUS, _NORMAL = ConversationStatus.open.value, Priority.normal.value
# every column the ORM's insert would fill (the lists are what their ``default=list`` gives)
_OPEN = BulkInsert(
    Conversation.__table__,
    (
        "id", "customer_id", "channel_id", "status", "priority", "created_at", "updated_at", "last_message_at",
        "last_inbound_at", "thread_key", "tags", "required_skills",
    ),
)  # fmt: skip


# the status is not among the columns set (a reopen sets it below): on SQLite every index on a
# column an UPDATE sets is rewritten for each row, and seven of the table's indexes lead with or
# hold the status
_RECORD_ACTIVITY = (
    update(Conversation.__table__)
    .where(Conversation.__table__.c.id == bindparam("conv_id"))
    .values(last_message_at=bindparam("at"), last_inbound_at=bindparam("at"), updated_at=bindparam("at"))
)


async def _record_activity(session: AsyncSession, touched: list[tuple[ConversationRef, datetime]]) -> None:
    """The conversations that existed before this batch: status (a reopen) and activity times."""
    if not touched:
        return
    await session.execute(_RECORD_ACTIVITY, [{"conv_id": ref.id, "at": at} for ref, at in touched])
    if reopened := [(ref, at) for ref, at in touched if ref.reopened_from]:  # rare: no statement otherwise
        # open again; a snoozed conversation the customer wrote to is awake (its timer will find
        # nothing to do), a resolved one is open again, and one with a team but nobody on it
        # waits in the team's queue from now
        table = Conversation.__table__
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("conv_id"))
            .values(
                status=bindparam("new_status"),
                snoozed_until=None,
                resolved_at=None,
                queued_at=case(
                    (table.c.queued_at.is_not(None), table.c.queued_at),
                    ((table.c.assignee_id.is_(None)) & (table.c.team_id.is_not(None)), bindparam("at", type_=table.c.queued_at.type)),
                    else_=None,
                ),
            ),
            [{"conv_id": ref.id, "new_status": ref.status, "at": at} for ref, at in reopened],
        )


_AT = Conversation.__table__.c.last_message_at.type
# the touches' own UPDATEs (activity times only) leave the remembered chats as they are
_OWN = frozenset({_TOUCH_KNOWN_CHAT, str(_RECORD_ACTIVITY.compile(dialect=sqlite_dialect()))})
_CHANGES = ("UPDATE conversations ", "DELETE FROM conversations ", "UPDATE conversations\n", "DELETE FROM conversations\n")
