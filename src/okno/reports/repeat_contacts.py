"""Repeat contacts of one customer on one reason: conversation B repeats A when B opened after A
and no later than the window after A's resolution. Linked when the later of the two gets its
reason (is resolved), in both directions; the earliest repeat wins.

:func:`link_repeat_contacts` links one fact at once (a rebuild's event-by-event replay);
:func:`link_many` links a live round's resolved facts together after the round's events, from one
read of their customers' facts: a round holds one event per customer, so no other event of the
round touches the facts a link reads or writes, and the result is the same."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.models import ReportConversation


async def link_repeat_contacts(session: AsyncSession, fact: ReportConversation, window: timedelta) -> None:
    if fact.reason is None or fact.resolved_at is None:
        return
    same = (ReportConversation.customer_id == fact.customer_id, ReportConversation.reason == fact.reason)
    follower = await session.scalar(
        select(ReportConversation.conversation_id)
        .where(*same, ReportConversation.opened_at > fact.opened_at, ReportConversation.opened_at <= fact.resolved_at + window)
        .order_by(ReportConversation.opened_at, ReportConversation.conversation_id)
        .limit(1)
    )
    fact.repeat_contact_id = follower
    earlier = (
        select(ReportConversation)
        .where(
            *same, ReportConversation.opened_at < fact.opened_at, ReportConversation.resolved_at.is_not(None),
            ReportConversation.resolved_at >= fact.opened_at - window,
        )
        .with_for_update()
    )
    for previous in await session.scalars(earlier):
        current = await session.get(ReportConversation, previous.repeat_contact_id) if previous.repeat_contact_id else None
        _link_earlier(previous, current, fact)


async def link_many(session: AsyncSession, facts: list[ReportConversation], window: timedelta) -> None:
    """What :func:`link_repeat_contacts` does for each fact in turn, the facts of their customers
    read (and locked, in id order) in one statement; the facts' own changes must be flushed first
    only where the database compares them, which here is nowhere: all comparisons are made on the
    rows as this session holds them."""
    facts = [f for f in facts if f.reason is not None and f.resolved_at is not None]
    if not facts:
        return
    customers = sorted({f.customer_id for f in facts})
    rows = await session.scalars(
        select(ReportConversation).where(ReportConversation.customer_id.in_(customers))
        .order_by(ReportConversation.conversation_id).with_for_update()
    )
    by_customer: dict[int, list[ReportConversation]] = {}
    for row in rows:
        by_customer.setdefault(row.customer_id, []).append(row)
    for fact in facts:
        same = [r for r in by_customer.get(fact.customer_id, ()) if r.reason == fact.reason and r.customer_id == fact.customer_id]
        assert fact.resolved_at is not None
        followers = [r for r in same if fact.opened_at < r.opened_at <= fact.resolved_at + window]
        fact.repeat_contact_id = min(followers, key=lambda r: (r.opened_at, r.conversation_id)).conversation_id if followers else None
        for previous in same:
            if previous.opened_at < fact.opened_at and previous.resolved_at is not None and previous.resolved_at >= fact.opened_at - window:
                current = await session.get(ReportConversation, previous.repeat_contact_id) if previous.repeat_contact_id else None
                _link_earlier(previous, current, fact)


def _link_earlier(previous: ReportConversation, current: ReportConversation | None, fact: ReportConversation) -> None:
    """``fact`` repeats ``previous``: it becomes previous's repeat contact unless an earlier one is."""
    if current is None or (fact.opened_at, fact.conversation_id) < (current.opened_at, current.conversation_id):
        previous.repeat_contact_id = fact.conversation_id
