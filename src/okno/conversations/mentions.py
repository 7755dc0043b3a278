"""@mentions in internal notes: the note stores whom it names (``content["mentions"]``) and each
named operator gets a ``note.mentioned`` event, which his live feed turns into a notification
(the same attention mechanism as a new assignment). The feed carries it only while he may see
the conversation: mentioning someone of another team does not show him its contents."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.kit.errors import Invalid
from okno.models import Direction, Message, Operator, OperatorKind

MAX_MENTIONS = 20


async def mention_operators(session: AsyncSession, note: Message, operator_ids: list[int], *, by: int | None) -> list[int]:
    """Record the mentions of a note (active people only; the author is not notified of himself)."""
    if note.direction != Direction.note.value:
        raise Invalid("only an internal note can mention operators")
    wanted = list(dict.fromkeys(operator_ids))
    if len(wanted) > MAX_MENTIONS:
        raise Invalid("a note mentions at most %(num)s operator", plural="a note mentions at most %(num)s operators", num=MAX_MENTIONS)
    found = set(
        await session.scalars(
            select(Operator.id).where(Operator.id.in_(wanted), Operator.is_active.is_(True), Operator.kind == OperatorKind.person.value)
        )
    )
    if missing := [i for i in wanted if i not in found]:
        raise Invalid("operator %(id)s does not exist or is deactivated", id=missing[0])
    note.content = {**(note.content or {}), "mentions": wanted}
    for operator_id in wanted:
        if operator_id == by:
            continue
        await record_event(session, "note.mentioned", {
            "message_id": note.id, "conversation_id": note.conversation_id, "customer_id": note.customer_id, "operator_id": operator_id, "by": by,
        })  # fmt: skip
    await session.flush()
    return wanted
