"""The operator's inbox: queues, their counters, sorting and search.

A page is read in two steps so it stays fast with hundreds of thousands of conversations: one
indexed query picks the page's conversation ids, then one query per detail (customer, channel,
last message) fetches only what those rows show.

Every list pages by keyset: a cursor carries the sort values and the id of the last row shown,
and the next page starts strictly after it, so paging reaches every row exactly once even while
conversations arrive (a row whose sort value changes meanwhile moves, like in any live list).
Every list has its total, counted with the same conditions.

Every query of this module takes ``visible``: an extra condition on ``Conversation`` (e.g. the
teams an operator may see) applied to the page, its total and the counters alike.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, false, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.types import Boolean, NullType
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from okno.access import Scope
from okno.access.clauses import conversation_visible
from okno.conversations.channels_used import used_channel
from okno.conversations.unread import unread_counts
from okno.customers.identities import InvalidIdentity, normalize_email, normalize_phone
from okno.customers.identity_index import is_key
from okno.kit.errors import Invalid
from okno.kit.time import utcnow
from okno.routing.assignment import is_vip
from okno.models import (
    UNFINISHED_STATUSES,
    Channel,
    Conversation,
    ConversationChannel,
    Customer,
    Direction,
    Identity,
    Message,
    MessageKind,
    Operator,
    Priority,
    team_members,
)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500  # a live refresh re-reads what the operator already loaded, up to this
PREVIEW_CHARS = 140
# text search looks at this many most recent messages: a full scan of every message ever
# received would not keep the inbox under its latency budget
TEXT_SEARCH_WINDOW = 20_000


class Queue(enum.StrEnum):
    mine = "mine"
    unassigned = "unassigned"
    team = "team"
    all = "all"


class SlaState(enum.StrEnum):
    breached = "breached"  # a deadline has passed
    at_risk = "at_risk"  # the nearest deadline is within ``SLA_AT_RISK``
    on_track = "on_track"  # a deadline runs, further away
    none = "none"  # no SLA clock runs


SLA_AT_RISK = timedelta(minutes=30)
NO_ASSIGNEE = -1  # ``assignee_id`` for "nobody is assigned"


class Sort(enum.StrEnum):
    waiting = "waiting"  # longest waiting first
    priority = "priority"  # highest priority, then longest waiting
    sla = "sla"  # nearest SLA deadline first
    recent = "recent"  # latest activity first


@dataclass(frozen=True)
class InboxFilter:
    queue: Queue = Queue.all
    channel_id: int | None = None
    status: str | None = None  # None: every unfinished status
    min_priority: int | None = None
    search: str = ""
    sort: Sort = Sort.waiting
    vip: bool = False  # only customers the CRM marked VIP
    tag: str | None = None  # only conversations carrying this tag
    assignee_id: int | None = None  # only this operator's (``NO_ASSIGNEE``: nobody's)
    created_from: datetime | None = None  # began at or after
    created_before: datetime | None = None  # began before
    sla_state: SlaState | None = None

    @classmethod
    def parse(
        cls, *, queue: str, channel_id: int | None, status: str | None, min_priority: int | None, search: str, sort: str, vip: bool = False,
        tag: str | None = None, assignee_id: int | None = None, created_from: datetime | None = None,
        created_before: datetime | None = None, sla_state: str | None = None,
    ) -> InboxFilter:
        try:
            return cls(
                queue=Queue(queue or "all"),
                channel_id=channel_id,
                status=status or None,
                min_priority=min_priority,
                search=(search or "").strip()[:200],
                sort=Sort(sort or "waiting"),
                vip=vip,
                tag=(tag or "").strip().lower()[:64] or None,
                assignee_id=assignee_id,
                created_from=created_from,
                created_before=created_before,
                sla_state=SlaState(sla_state) if sla_state else None,
            )
        except ValueError as exc:
            raise Invalid("bad inbox filter: %(exc)s", exc=exc) from exc


@dataclass(frozen=True)
class InboxRow:
    id: int
    customer_id: int
    customer_name: str
    channel_id: int | None  # where the conversation began
    channel_kind: str | None  # the channel of the latest message (where the customer is now)
    channel_name: str | None
    status: str
    priority: int
    assignee_id: int | None
    assignee_name: str | None
    team_id: int | None
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    waiting_since: datetime | None  # the customer's last message still has no reply
    sla_due_at: datetime | None
    preview: str
    preview_direction: str | None
    vip: bool = False
    # who wrote the latest message when it is outgoing: an operator (id and name), or a bot, an
    # automation or okno itself (``preview_actor``), so the list says "Ольга:" or "You:", not always "You:"
    preview_author_id: int | None = None
    preview_author_name: str | None = None
    preview_actor: str | None = None
    unread: int = 0  # the customer's messages the operator asking has not seen (okno.conversations.unread)
    tags: tuple[str, ...] = ()


async def operator_team_ids(session: AsyncSession, operator_id: int) -> list[int]:
    rows = await session.scalars(select(team_members.c.team_id).where(team_members.c.operator_id == operator_id))
    return list(rows)


class _Rare(ColumnElement[bool]):
    """A condition few rows meet, said so to SQLite's planner (``likelihood(x, 0.05)``).

    Unfinished conversations are a small share of all, but SQLite's statistics know only the
    average rows per status, so without the hint it scans the whole table instead of searching
    the status index. Other databases see the plain condition (PostgreSQL's statistics know).

    Its condition is part of the statement's cache key (``_traverse_internals``): without it
    SQLAlchemy can't cache a statement that holds one and compiled every inbox query again on
    every request (milliseconds of CPU each, 20 times over for one live update).
    """

    inherit_cache = True
    _traverse_internals = [("condition", InternalTraversal.dp_clauseelement)]
    type = NullType()  # not Boolean: SQLite would get ``likelihood(...) = 1``, which no index serves

    def __init__(self, condition: ColumnElement[bool]) -> None:
        self.condition = condition


@compiles(_Rare)
def _rare_default(element: _Rare, compiler, **kw) -> str:  # noqa: ANN001, ANN003
    return compiler.process(element.condition, **kw)


@compiles(_Rare, "sqlite")
def _rare_sqlite(element: _Rare, compiler, **kw) -> str:  # noqa: ANN001, ANN003
    return f"likelihood({compiler.process(element.condition, **kw)}, 0.05)"


class _HasTag(ColumnElement[bool]):
    """``tag`` is among the conversation's tags (a JSON list): ``@>`` on PostgreSQL's JSONB,
    ``json_each`` on SQLite."""

    inherit_cache = True
    type = Boolean()

    def __init__(self, tag: str) -> None:
        self.tag = tag


@compiles(_HasTag)
def _has_tag_default(element: _HasTag, compiler, **kw) -> str:  # noqa: ANN001, ANN003
    return compiler.process(type_coerce(Conversation.tags, JSONB).contains([element.tag]), **kw)


@compiles(_HasTag, "sqlite")
def _has_tag_sqlite(element: _HasTag, compiler, **kw) -> str:  # noqa: ANN001, ANN003
    tags = compiler.process(Conversation.__table__.c.tags, **kw)
    tag = compiler.process(bindparam(None, element.tag), **kw)
    return f"EXISTS (SELECT 1 FROM json_each({tags}) WHERE json_each.value = {tag})"


def has_tag(tag: str) -> ColumnElement[bool]:
    return _HasTag(tag)


def _sla_condition(state: SlaState, now: datetime) -> ColumnElement[bool]:
    due = Conversation.sla_due_at
    if state == SlaState.breached:
        return due < now
    if state == SlaState.at_risk:
        return and_(due >= now, due < now + SLA_AT_RISK)
    if state == SlaState.on_track:
        return due >= now + SLA_AT_RISK
    return due.is_(None)


def unfinished_condition(unfinished: tuple[str, ...]) -> ColumnElement[bool]:
    return _Rare(Conversation.status.in_(unfinished))


def _sla_column():  # noqa: ANN202 - the column exists once SLA policies are installed
    return getattr(Conversation, "sla_due_at", None)


def _queue_filter(query: Select, queue: Queue, operator_id: int, team_ids: list[int]) -> Select:
    if queue == Queue.mine:
        return query.where(Conversation.assignee_id == operator_id)
    if queue == Queue.unassigned:
        return query.where(Conversation.assignee_id.is_(None))
    if queue == Queue.team:
        return query.where(Conversation.team_id.in_(team_ids or [-1]))
    return query


async def _search_filter(session: AsyncSession, query: Select, text: str) -> Select:
    """A phone or an e-mail finds the customer by identity; other text matches names and recent messages."""
    customer_ids: set[int] = set()
    for normalise, kind in ((normalize_email, "email"), (normalize_phone, "phone")):
        if kind == "email" and "@" not in text:
            continue
        if kind == "phone" and sum(ch.isdigit() for ch in text) < 5:
            continue
        try:
            value = normalise(text)
        except InvalidIdentity:
            continue
        customer_ids.update(await session.scalars(select(Identity.customer_id).where(is_key(kind, value))))
    if customer_ids:
        return query.where(Conversation.customer_id.in_(customer_ids))
    pattern = f"%{_escape_like(text)}%"
    by_name = select(Customer.id).where(or_(Customer.name.ilike(pattern, escape="\\"), Customer.name.like(pattern, escape="\\")))
    latest = select(func.max(Message.id)).scalar_subquery()
    by_text = select(Message.conversation_id).where(
        Message.id > latest - TEXT_SEARCH_WINDOW, Message.text.ilike(pattern, escape="\\")
    )
    return query.where(or_(Conversation.customer_id.in_(by_name), Conversation.id.in_(by_text)))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class SortKey:
    column: object  # an InstrumentedAttribute of Conversation
    descending: bool = False  # NULLs always come last


def sort_keys(sort: Sort) -> tuple[list[SortKey], bool]:
    """The columns a sort orders by, and whether the id (the tie-breaker) descends."""
    waiting = SortKey(Conversation.last_inbound_at)
    if sort == Sort.priority:
        return [SortKey(Conversation.priority, descending=True), waiting], False
    if sort == Sort.sla and _sla_column() is not None:
        return [SortKey(_sla_column()), waiting], False
    if sort == Sort.recent:
        return [SortKey(Conversation.last_message_at, descending=True)], True
    return [waiting], False


def _order(query: Select, sort: Sort) -> Select:
    keys, id_descending = sort_keys(sort)
    columns = [(k.column.desc() if k.descending else k.column.asc()).nulls_last() for k in keys]
    return query.order_by(*columns, Conversation.id.desc() if id_descending else Conversation.id)


def _after(key: SortKey, value: object) -> ColumnElement[bool]:
    """Rows strictly after ``value`` on one key (NULLs last)."""
    if value is None:
        return false()
    beyond = key.column < value if key.descending else key.column > value
    return or_(beyond, key.column.is_(None))


def _ahead(key: SortKey, value: object) -> ColumnElement[bool]:
    """Rows strictly before ``value`` on one key (NULLs last: every value is before a NULL)."""
    if value is None:
        return key.column.is_not(None)
    return key.column > value if key.descending else key.column < value


def _same(key: SortKey, value: object) -> ColumnElement[bool]:
    return key.column.is_(None) if value is None else key.column == value


def _after_cursor(sort: Sort, cursor: Cursor) -> ColumnElement[bool]:
    """The rows that come after the cursor in the sort's order: (k1, …, kn, id) > cursor."""
    return _beside_cursor(sort, cursor, later=True)


def before_cursor(sort: Sort, cursor: Cursor) -> ColumnElement[bool]:
    """The rows that come before the cursor in the sort's order: (k1, …, kn, id) < cursor,
    written as ranges (not as the negation of :func:`_after_cursor`) so an index on the sort
    column serves it."""
    return _beside_cursor(sort, cursor, later=False)


def _beside_cursor(sort: Sort, cursor: Cursor, *, later: bool) -> ColumnElement[bool]:
    """Lexicographic comparison with the cursor: for some key, the keys before it equal and it
    strictly after (``later``) or before the cursor's value; else every key equal and the id
    after or before."""
    keys, id_descending = sort_keys(sort)
    strictly = _after if later else _ahead
    alternatives = []
    for n, key in enumerate(keys):
        alternatives.append(and_(*(_same(k, v) for k, v in zip(keys[:n], cursor.values, strict=False)), strictly(key, cursor.values[n])))
    id_greater = later != id_descending  # after in ascending id order, or before in descending
    beside_id = Conversation.id > cursor.id if id_greater else Conversation.id < cursor.id
    alternatives.append(and_(*(_same(k, v) for k, v in zip(keys, cursor.values, strict=True)), beside_id))
    return or_(*alternatives)


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the sort it belongs to, the last row's sort values and its id."""

    sort: Sort
    values: tuple
    id: int

    def encode(self) -> str:
        values = [v.isoformat() if isinstance(v, datetime) else v for v in self.values]
        raw = json.dumps([self.sort.value, values, self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, sort: Sort) -> Cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            name, values, last_id = raw
            keys, _ = sort_keys(sort)
            if name != sort.value or len(values) != len(keys) or not isinstance(last_id, int):
                raise ValueError("the cursor belongs to another sort")
            return cls(sort, tuple(_cursor_value(k, v) for k, v in zip(keys, values, strict=True)), last_id)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise Invalid("bad page cursor: %(exc)s", exc=exc) from exc

    @classmethod
    def of(cls, sort: Sort, row: InboxRow) -> Cursor:
        keys, _ = sort_keys(sort)
        return cls(sort, tuple(getattr(row, k.column.key) for k in keys), row.id)


def _cursor_value(key: SortKey, value: object) -> object:
    if value is None:
        return None
    if key.column.key == "priority":
        if not isinstance(value, int):
            raise ValueError("priority must be a number")
        return value
    if not isinstance(value, str):
        raise ValueError("a time must be text")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a time must carry its offset")
    return moment


def _base(
    flt: InboxFilter, operator_id: int, team_ids: list[int], unfinished: tuple[str, ...], visible: ColumnElement[bool] | None = None
) -> Select:
    query = select(Conversation.id)
    query = query.where(Conversation.status == flt.status) if flt.status else query.where(unfinished_condition(unfinished))
    if visible is not None:
        query = query.where(visible)
    if flt.channel_id is not None:
        query = query.where(used_channel(flt.channel_id))
    if flt.min_priority is not None:
        query = query.where(Conversation.priority >= flt.min_priority)
    if flt.vip:
        query = query.where(Conversation.customer_id.in_(select(Customer.id).where(vip_customer())))
    if flt.tag:
        query = query.where(has_tag(flt.tag))
    if flt.assignee_id is not None:
        query = query.where(Conversation.assignee_id.is_(None) if flt.assignee_id == NO_ASSIGNEE else Conversation.assignee_id == flt.assignee_id)
    if flt.created_from is not None:
        query = query.where(Conversation.created_at >= flt.created_from)
    if flt.created_before is not None:
        query = query.where(Conversation.created_at < flt.created_before)
    if flt.sla_state is not None:
        query = query.where(_sla_condition(flt.sla_state, utcnow()))
    return _queue_filter(query, flt.queue, operator_id, team_ids)


def vip_customer():  # noqa: ANN201 - a SQL condition, the same rule as ``routing.assignment.is_vip``
    return or_(Customer.attributes["vip"].as_boolean().is_(True), func.coalesce(Customer.attributes["vip_tier"].as_string(), "") != "")


def within(scope: Scope | None, visible: ColumnElement[bool] | None) -> ColumnElement[bool] | None:
    """The principal's visibility rule (``okno.access``) and any extra condition, together."""
    rules = [rule for rule in (conversation_visible(scope) if scope is not None else None, visible) if rule is not None]
    return and_(*rules) if rules else None


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    total: int  # every conversation the list holds, not only this page
    next_cursor: str | None  # None: this page is the last


async def inbox_list(
    session: AsyncSession,
    flt: InboxFilter,
    *,
    operator_id: int,
    unfinished: tuple[str, ...] | None = None,
    after: str | None = None,
    limit: int = PAGE_SIZE,
    visible: ColumnElement[bool] | None = None,
    scope: Scope | None = None,
) -> InboxPage:
    """One page of a queue or view (after the ``after`` cursor) with the queue's total;
    ``scope``: only what that principal may see (``okno.access``)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    query = await _filtered(session, flt, operator_id, unfinished, within(scope, visible))
    total = await _count(session, query)
    paged = query.where(_after_cursor(flt.sort, Cursor.decode(after, flt.sort))) if after else query
    ids = list(await session.scalars(_order(paged, flt.sort).limit(limit + 1)))
    rows = await _rows(session, ids[:limit])
    unread = await unread_counts(session, operator_id=operator_id, conversation_ids=ids[:limit])
    rows = [replace(row, unread=unread.get(row.id, 0)) for row in rows]
    more = len(ids) > limit
    return InboxPage(rows=rows, total=total, next_cursor=Cursor.of(flt.sort, rows[-1]).encode() if more else None)


async def inbox_total(
    session: AsyncSession,
    flt: InboxFilter,
    *,
    operator_id: int,
    unfinished: tuple[str, ...] | None = None,
    visible: ColumnElement[bool] | None = None,
    scope: Scope | None = None,
) -> int:
    """How many conversations a queue or view holds (what ``inbox_list`` shows as its total);
    ``scope`` as in :func:`inbox_list`, so the two never disagree."""
    return await _count(session, await _filtered(session, flt, operator_id, unfinished, within(scope, visible)))


async def _count(session: AsyncSession, query: Select) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def _filtered(
    session: AsyncSession, flt: InboxFilter, operator_id: int, unfinished: tuple[str, ...] | None, visible: ColumnElement[bool] | None
) -> Select:
    unfinished = unfinished or tuple(s.value for s in UNFINISHED_STATUSES)
    team_ids = await operator_team_ids(session, operator_id) if flt.queue == Queue.team else []
    query = _base(flt, operator_id, team_ids, unfinished, visible)
    if flt.search:
        query = await _search_filter(session, query, flt.search)
    return query


async def _rows(session: AsyncSession, ids: list[int]) -> list[InboxRow]:
    if not ids:
        return []
    sla = _sla_column()
    columns = [Conversation, Customer.name, Channel.kind, Channel.name, Operator.name, Customer.attributes]
    if sla is not None:
        columns.append(sla)
    query = (
        select(*columns)
        .join(Customer, Customer.id == Conversation.customer_id)
        .outerjoin(Channel, Channel.id == Conversation.channel_id)
        .outerjoin(Operator, Operator.id == Conversation.assignee_id)
        .where(Conversation.id.in_(ids))
    )
    found = {row[0].id: row for row in (await session.execute(query)).all()}
    previews = await _last_messages(session, ids)
    waits = await waiting_since(session, ids)
    rows = []
    for conversation_id in ids:
        row = found[conversation_id]
        conv = row[0]
        text, direction, last_kind, last_name, author_id, author_name, actor = previews.get(conversation_id, _NO_PREVIEW)
        rows.append(
            InboxRow(
                id=conv.id,
                customer_id=conv.customer_id,
                customer_name=row[1] or "",
                channel_id=conv.channel_id,
                channel_kind=last_kind or row[2],
                channel_name=last_name or row[3],
                status=conv.status,
                priority=conv.priority,
                assignee_id=conv.assignee_id,
                assignee_name=row[4],
                team_id=conv.team_id,
                last_message_at=conv.last_message_at,
                last_inbound_at=conv.last_inbound_at,
                waiting_since=waits.get(conversation_id),
                sla_due_at=row[6] if sla is not None else None,
                preview=text[:PREVIEW_CHARS],
                preview_direction=direction,
                preview_author_id=author_id,
                preview_author_name=author_name,
                preview_actor=actor,
                vip=is_vip(row[5] or {}),
                tags=tuple(conv.tags or ()),
            )
        )
    return rows


_NO_PREVIEW: tuple = ("", None, None, None, None, None, None)
# attachments that carry data the customer was asked for, not a question (docs/operator-ui.md)
_NO_ANSWER_NEEDED = frozenset({"contact", "location", "sticker"})
WAIT_SCAN = 2000  # customer messages read per page to find each row's wait (a flood is cut here)


def needs_answer(kind: str, text: str, attachments: list | None, content: dict | None) -> bool:
    """Whether a customer message starts the wait for a reply: text, a call, a photo or a file
    do; a survey answer, or a contact card, location or sticker alone, do not."""
    if isinstance(content, dict) and "survey" in content:
        return False
    if text.strip() or kind == MessageKind.call.value:
        return True
    return any(isinstance(a, dict) and (a.get("kind") or a.get("type")) not in _NO_ANSWER_NEEDED for a in attachments or ())


async def waiting_since(session: AsyncSession, conversation_ids: list[int]) -> dict[int, datetime]:
    """Per conversation: since when the customer waits for an answer — his first message that
    needs one (``needs_answer``) after the latest reply (an outgoing message of anyone: an
    operator, a bot, an automation). Later messages of his don't restart the wait; a reply ends it."""
    if not conversation_ids:
        return {}
    replied = aliased(Message)
    last_reply = (
        select(func.max(replied.id))
        .where(replied.conversation_id == Message.conversation_id, replied.direction == Direction.outbound.value)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Message.conversation_id, Message.created_at, Message.kind, Message.text, Message.attachments, Message.content)
        .where(
            Message.conversation_id.in_(conversation_ids),
            Message.direction == Direction.inbound.value,
            Message.id > func.coalesce(last_reply, 0),
        )
        .order_by(Message.id)
        .limit(WAIT_SCAN)
    )
    waits: dict[int, datetime] = {}
    for conversation_id, at, kind, text, attachments, content in rows:
        if conversation_id not in waits and needs_answer(kind, text or "", attachments, content):
            waits[conversation_id] = at
    return waits


async def _last_messages(session: AsyncSession, conversation_ids: list[int]) -> dict[int, tuple]:
    """Each conversation's latest message (text, direction, channel kind and name, its author's
    id and name, the kind of actor): the list shows where the customer is talking now, not only
    where the conversation began, and who answered last."""
    last_ids = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(conversation_ids), Message.direction != "note")
        .group_by(Message.conversation_id)
    )
    rows = await session.execute(
        select(
            Message.conversation_id, Message.text, Message.direction, Channel.kind, Channel.name,
            Message.author_id, Operator.name, Message.actor_type,
        )
        .outerjoin(Channel, Channel.id == Message.channel_id)
        .outerjoin(Operator, Operator.id == Message.author_id)
        .where(Message.id.in_(last_ids))
    )
    return {row[0]: (row[1] or "", *row[2:]) for row in rows}


@dataclass(frozen=True)
class QueueCounts:
    mine: int
    unassigned: int
    team: int
    all: int
    urgent: int  # high or urgent priority, any queue
    vip: int
    channels: dict[int, int] | None = None  # unfinished conversations that used each channel
    statuses: dict[str, int] | None = None  # conversations in each status (finished ones too)

    def as_json(self) -> dict[str, int]:
        counts = {"mine": self.mine, "unassigned": self.unassigned, "team": self.team, "all": self.all, "urgent": self.urgent, "vip": self.vip}
        counts.update({f"channel-{key}": n for key, n in (self.channels or {}).items()})
        counts.update({f"status-{key}": n for key, n in (self.statuses or {}).items()})
        return counts


async def queue_counts(
    session: AsyncSession,
    *,
    operator_id: int,
    unfinished: tuple[str, ...] | None = None,
    statuses: tuple[str, ...] = (),
    visible: ColumnElement[bool] | None = None,
    scope: Scope | None = None,
) -> QueueCounts:
    """Every queue's total in three statements (besides the operator's teams): one pass over
    the unfinished conversations, one per channel used, one per status of ``statuses``.

    Counted for one principal, exactly: the full inbox page uses it. The live page's re-reads
    use ``shared_counts`` (one grouped read summed per operator), which must equal this."""
    visible = within(scope, visible)
    unfinished = unfinished or tuple(s.value for s in UNFINISHED_STATUSES)
    team_ids = await operator_team_ids(session, operator_id)
    conditions = [unfinished_condition(unfinished)] + ([visible] if visible is not None else [])

    def tally(condition: ColumnElement[bool]):  # noqa: ANN202 - a SQL sum
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    vip = Conversation.customer_id.in_(select(Customer.id).where(vip_customer()))
    row = (
        await session.execute(
            select(
                tally(Conversation.assignee_id == operator_id),
                tally(Conversation.assignee_id.is_(None)),
                tally(Conversation.team_id.in_(team_ids or [-1])),
                func.count(),
                tally(Conversation.priority >= Priority.high.value),
                tally(vip),
            ).where(*conditions)
        )
    ).one()
    return QueueCounts(
        *(int(n or 0) for n in row),
        channels=await _channel_counts(session, conditions),
        statuses=await _status_counts(session, statuses, visible),
    )


async def _channel_counts(session: AsyncSession, conditions: list[ColumnElement[bool]]) -> dict[int, int]:
    """Per channel: the conversations that began there plus those that used it later (a
    ``conversation_channels`` row is never the channel a conversation began in, so none counts twice)."""
    began = await session.execute(
        select(Conversation.channel_id, func.count()).where(Conversation.channel_id.is_not(None), *conditions).group_by(Conversation.channel_id)
    )
    counts = {int(channel_id): int(n) for channel_id, n in began}
    unfinished = select(Conversation.id).where(*conditions)  # few: searched in the status index, then each one's rows
    used = await session.execute(
        select(ConversationChannel.channel_id, func.count())
        .where(ConversationChannel.conversation_id.in_(unfinished))
        .group_by(ConversationChannel.channel_id)
    )
    for channel_id, n in used:
        counts[int(channel_id)] = counts.get(int(channel_id), 0) + int(n)
    return counts


async def _status_counts(session: AsyncSession, statuses: tuple[str, ...], visible: ColumnElement[bool] | None) -> dict[str, int]:
    if not statuses:
        return {}
    query = select(Conversation.status, func.count()).where(Conversation.status.in_(statuses)).group_by(Conversation.status)
    if visible is not None:
        query = query.where(visible)
    return {key: 0 for key in statuses} | {status: int(n) for status, n in await session.execute(query)}
