"""The operator's inbox: queues, their counters, sorting and search.

A page is read in two steps so it stays fast with hundreds of thousands of conversations: one
indexed query picks the page's conversation ids, then one query per detail (customer, channel,
last message) fetches only what those rows show.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import conversation_visible
from okno.customers.identities import InvalidIdentity, normalize_email, normalize_phone
from okno.customers.identity_index import is_key
from okno.kit.errors import Invalid
from okno.routing.assignment import is_vip
from okno.models import UNFINISHED_STATUSES, Channel, Conversation, Customer, Identity, Message, Operator, Priority, team_members

PAGE_SIZE = 50
PREVIEW_CHARS = 140
# text search looks at this many most recent messages: a full scan of every message ever
# received would not keep the inbox under its latency budget
TEXT_SEARCH_WINDOW = 20_000


class Queue(enum.StrEnum):
    mine = "mine"
    unassigned = "unassigned"
    team = "team"
    all = "all"


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

    @classmethod
    def parse(
        cls, *, queue: str, channel_id: int | None, status: str | None, min_priority: int | None, search: str, sort: str, vip: bool = False
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
            )
        except ValueError as exc:
            raise Invalid(f"bad inbox filter: {exc}") from exc


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


async def operator_team_ids(session: AsyncSession, operator_id: int) -> list[int]:
    rows = await session.scalars(select(team_members.c.team_id).where(team_members.c.operator_id == operator_id))
    return list(rows)


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


def _order(query: Select, sort: Sort) -> Select:
    waiting = Conversation.last_inbound_at
    if sort == Sort.priority:
        return query.order_by(Conversation.priority.desc(), waiting.asc().nulls_last(), Conversation.id)
    if sort == Sort.sla and _sla_column() is not None:
        return query.order_by(_sla_column().asc().nulls_last(), waiting.asc().nulls_last(), Conversation.id)
    if sort == Sort.recent:
        return query.order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc())
    return query.order_by(waiting.asc().nulls_last(), Conversation.id)


def _base(flt: InboxFilter, operator_id: int, team_ids: list[int], unfinished: tuple[str, ...]) -> Select:
    query = select(Conversation.id)
    query = query.where(Conversation.status == flt.status) if flt.status else query.where(Conversation.status.in_(unfinished))
    if flt.channel_id is not None:
        query = query.where(Conversation.channel_id == flt.channel_id)
    if flt.min_priority is not None:
        query = query.where(Conversation.priority >= flt.min_priority)
    if flt.vip:
        query = query.where(Conversation.customer_id.in_(select(Customer.id).where(vip_customer())))
    return _queue_filter(query, flt.queue, operator_id, team_ids)


def vip_customer():  # noqa: ANN201 - a SQL condition, the same rule as ``routing.assignment.is_vip``
    return or_(Customer.attributes["vip"].as_boolean().is_(True), func.coalesce(Customer.attributes["vip_tier"].as_string(), "") != "")


async def inbox_page(
    session: AsyncSession, flt: InboxFilter, *, operator_id: int, unfinished: tuple[str, ...] | None = None, limit: int = PAGE_SIZE,
    scope: Scope | None = None,
) -> list[InboxRow]:
    """``scope``: only conversations that principal may see (``okno.access``); every queue,
    "all" included, is a part of them."""
    unfinished = unfinished or tuple(s.value for s in UNFINISHED_STATUSES)
    team_ids = await operator_team_ids(session, operator_id) if flt.queue == Queue.team else []
    query = _base(flt, operator_id, team_ids, unfinished)
    if scope is not None:
        query = query.where(conversation_visible(scope))
    if flt.search:
        query = await _search_filter(session, query, flt.search)
    ids = list(await session.scalars(_order(query, flt.sort).limit(limit)))
    return await _rows(session, ids)


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
    rows = []
    for conversation_id in ids:
        row = found[conversation_id]
        conv = row[0]
        text, direction, last_kind, last_name = previews.get(conversation_id, ("", None, None, None))
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
                waiting_since=conv.last_inbound_at if direction == "in" else None,
                sla_due_at=row[6] if sla is not None else None,
                preview=text[:PREVIEW_CHARS],
                preview_direction=direction,
                vip=is_vip(row[5] or {}),
            )
        )
    return rows


async def _last_messages(session: AsyncSession, conversation_ids: list[int]) -> dict[int, tuple[str, str, str | None, str | None]]:
    """Each conversation's latest message (text, direction, channel kind and name): the list shows
    where the customer is talking now, not only where the conversation began."""
    last_ids = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(conversation_ids), Message.direction != "note")
        .group_by(Message.conversation_id)
    )
    rows = await session.execute(
        select(Message.conversation_id, Message.text, Message.direction, Channel.kind, Channel.name)
        .outerjoin(Channel, Channel.id == Message.channel_id)
        .where(Message.id.in_(last_ids))
    )
    return {cid: (text or "", direction, kind, name) for cid, text, direction, kind, name in rows}


@dataclass(frozen=True)
class QueueCounts:
    mine: int
    unassigned: int
    team: int
    all: int
    urgent: int  # high or urgent priority, any queue
    vip: int

    def as_json(self) -> dict[str, int]:
        return {"mine": self.mine, "unassigned": self.unassigned, "team": self.team, "all": self.all, "urgent": self.urgent, "vip": self.vip}


async def queue_counts(
    session: AsyncSession, *, operator_id: int, unfinished: tuple[str, ...] | None = None, scope: Scope | None = None
) -> QueueCounts:
    unfinished = unfinished or tuple(s.value for s in UNFINISHED_STATUSES)
    team_ids = await operator_team_ids(session, operator_id)
    open_ = Conversation.status.in_(unfinished)
    if scope is not None:
        open_ = open_ & conversation_visible(scope)

    async def count(*conditions) -> int:  # noqa: ANN002
        return int(await session.scalar(select(func.count()).select_from(Conversation).where(open_, *conditions)) or 0)

    return QueueCounts(
        mine=await count(Conversation.assignee_id == operator_id),
        unassigned=await count(Conversation.assignee_id.is_(None)),
        team=await count(Conversation.team_id.in_(team_ids or [-1])),
        all=await count(),
        urgent=await count(Conversation.priority >= Priority.high.value),
        vip=await count(Conversation.customer_id.in_(select(Customer.id).where(vip_customer()))),
    )
