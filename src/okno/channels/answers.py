"""Turns inbound messages into typed answers: a pressed button (the adapter says which option)
is linked to the prompt it answers, and a bare number typed back to a prompt that went out as
numbered text becomes the answer it names.

Runs inside the ingest batch; it issues no statement unless the batch holds a press or a bare
number, so the usual batch costs nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.base import InboundMessage
from okno.channels.interactive import Answer, answer_by_number, interactive_of, typed_number
from okno.models import Direction, Message


@dataclass(frozen=True)
class Touched:
    """One inbound message with where the pipeline filed it."""

    item: InboundMessage
    channel_id: int
    conversation_id: int
    customer_id: int


async def resolve_answers(session: AsyncSession, touched: Sequence[Touched]) -> list[Answer | None]:
    """Per message: its typed answer (linked to its prompt when found), or None."""
    answers: list[Answer | None] = [t.item.answer for t in touched]
    if any(a is not None for a in answers):
        answers = await _link_presses(session, touched, answers)
    numbered = [
        i for i, (t, a) in enumerate(zip(touched, answers, strict=True))
        if a is None and not t.item.attachments and typed_number(t.item.text) is not None
    ]
    if numbered:
        prompts = await _latest_prompts(session, {touched[i].conversation_id for i in numbered})
        for i in numbered:
            prompt = prompts.get(touched[i].conversation_id)
            if prompt is not None:
                answers[i] = answer_by_number(prompt[0], prompt[1], typed_number(touched[i].item.text) or 0)
    return answers


async def _link_presses(session: AsyncSession, touched: Sequence[Touched], answers: list[Answer | None]) -> list[Answer | None]:
    by_provider = {(t.channel_id, a.in_reply_to) for t, a in zip(touched, answers, strict=True) if a and a.in_reply_to and a.message_id is None}
    by_id = {a.message_id for a in answers if a and a.message_id is not None}
    conditions = []
    if by_provider:
        conditions.append(tuple_(Message.channel_id, Message.provider_message_id).in_(sorted(by_provider)))
    if by_id:
        conditions.append(Message.id.in_(sorted(by_id)))
    rows = (
        await session.execute(
            select(Message.id, Message.channel_id, Message.provider_message_id, Message.customer_id, Message.content).where(
                or_(*conditions), Message.direction == Direction.outbound.value
            )
        )
    ).all()
    found_by_id = {row.id: row for row in rows}
    found_by_provider = {(row.channel_id, row.provider_message_id): row for row in rows}
    linked: list[Answer | None] = []
    for t, answer in zip(touched, answers, strict=True):
        if answer is None:
            linked.append(None)
            continue
        prompt = found_by_id.get(answer.message_id) if answer.message_id is not None else found_by_provider.get((t.channel_id, answer.in_reply_to))
        if prompt is None or prompt.customer_id != t.customer_id:  # another customer's message: never linked
            linked.append(answer.model_copy(update={"message_id": None}))
            continue
        title = answer.title
        if not title:
            offered = interactive_of(prompt.content)
            option = offered.option(answer.option_id) if offered else None
            title = option.title if option else ""
        linked.append(answer.model_copy(update={"message_id": prompt.id, "title": title, "in_reply_to": answer.in_reply_to or prompt.provider_message_id}))
    return linked


async def _latest_prompts(session: AsyncSession, conversation_ids: set[int]) -> dict[int, tuple[int, dict | None]]:
    """Each conversation's latest outbound message (id, content): a number answers only that one."""
    latest = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(sorted(conversation_ids)), Message.direction == Direction.outbound.value)
        .group_by(Message.conversation_id)
    )
    rows = (await session.execute(select(Message.id, Message.conversation_id, Message.content).where(Message.id.in_(latest)))).all()
    return {row.conversation_id: (row.id, row.content) for row in rows}
