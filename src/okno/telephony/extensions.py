"""Operators' telephone extensions: the internal number a call event names as ``internal``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.audit import audit
from okno.kit.errors import Conflict, NotFound
from okno.models import Operator


async def set_extension(session: AsyncSession, *, operator_id: int, extension: str | None, actor_id: int) -> Operator:
    """Gives ``operator_id`` the extension (None: none); one extension belongs to one operator."""
    operator = await session.get(Operator, operator_id)
    if operator is None:
        raise NotFound("%(what)s %(id)s not found", what="operator", id=operator_id)
    if extension == operator.extension:
        return operator
    if extension is not None:
        holder = await session.scalar(select(Operator.id).where(Operator.extension == extension, Operator.id != operator_id))
        if holder is not None:
            raise Conflict("extension %(extension)s belongs to operator %(holder)s: remove it there first", extension=extension, holder=holder)
    operator.extension = extension
    await session.flush()
    await audit(session, actor_id=actor_id, action="operator.extension_changed", subject=("operator", operator_id), data={"extension": extension})
    return operator
