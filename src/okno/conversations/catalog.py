"""The shared list of conversation statuses and closing reasons: lookups and admin changes.

Built-in statuses (the keys of ``ConversationStatus``) keep their type: ingest opens conversations
as ``open`` and reopens waiting ones to ``open``. Admins add their own statuses of any type and
relabel or reorder all of them; statuses and reasons are never deleted (conversations keep their
keys), a reason is switched off instead.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.audit import audit
from okno.kit.errors import Conflict, Invalid, NotFound
from okno.models import UNFINISHED_TYPES, ClosingReason, ConversationStatus, StatusDefinition, StatusType

LANGUAGES = ("ru", "en")
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
BUILT_IN_STATUSES = frozenset(s.value for s in ConversationStatus)


def unfinished_status_keys() -> Select:
    """A subquery of the keys whose type means the conversation is still being worked on."""
    return select(StatusDefinition.key).where(StatusDefinition.type.in_([t.value for t in UNFINISHED_TYPES]))


async def list_statuses(session: AsyncSession) -> list[StatusDefinition]:
    return list(await session.scalars(select(StatusDefinition).order_by(StatusDefinition.position, StatusDefinition.key)))


async def list_reasons(session: AsyncSession) -> list[ClosingReason]:
    return list(await session.scalars(select(ClosingReason).order_by(ClosingReason.position, ClosingReason.key)))


async def status_definition(session: AsyncSession, key: str) -> StatusDefinition:
    """The status called ``key``, or a 422 that lists the ones that exist."""
    found = await session.get(StatusDefinition, key)
    if found is None:
        known = ", ".join(s.key for s in await list_statuses(session))
        raise Invalid("unknown status %(key)r (one of: %(known)s)", key=key, known=known)
    return found


async def usable_reason(session: AsyncSession, key: str) -> ClosingReason:
    """The active reason called ``key``, or a 422 that lists the active ones."""
    found = await session.get(ClosingReason, key)
    if found is None or not found.active:
        active = ", ".join(r.key for r in await list_reasons(session) if r.active)
        if found is not None:
            raise Invalid("reason %(key)r is switched off (active reasons: %(active)s)", key=key, active=active)
        raise Invalid("reason %(key)r is unknown (active reasons: %(active)s)", key=key, active=active)
    return found


def checked_key(key: str, *, max_length: int) -> str:
    key = key.strip()
    if not 2 <= len(key) <= max_length or not _KEY.match(key):
        raise Invalid(
            "key %(key)r must be 2–%(num)s character: lower-case latin letters, digits and '_', starting with a letter",
            plural="key %(key)r must be 2–%(num)s characters: lower-case latin letters, digits and '_', starting with a letter", key=key, num=max_length,
        )
    return key


def checked_label(label: dict[str, Any]) -> dict[str, str]:
    unknown = sorted(set(label) - set(LANGUAGES))
    if unknown:
        raise Invalid("label has unknown languages %(unknown)s (allowed: %(languages)s)", unknown=unknown, languages=', '.join(LANGUAGES))
    clean = {lang: str(label.get(lang) or "").strip() for lang in LANGUAGES}
    missing = [lang for lang, text in clean.items() if not text]
    if missing:
        raise Invalid("label needs a non-empty text in %(missing)s", missing=', '.join(missing))
    if too_long := [lang for lang, text in clean.items() if len(text) > 100]:
        raise Invalid("label in %(too_long)s is longer than 100 characters", too_long=', '.join(too_long))
    return clean


def checked_type(value: str) -> str:
    if value not in StatusType.__members__:
        raise Invalid("unknown status type %(value)r (one of: %(choices)s)", value=value, choices=', '.join(StatusType.__members__))
    return value


async def _next_position(session: AsyncSession, model: type[StatusDefinition] | type[ClosingReason]) -> int:
    return (await session.scalar(select(func.coalesce(func.max(model.position), 0)))) + 10


async def add_status(
    session: AsyncSession, *, key: str, type: str, label: dict[str, Any], position: int | None, actor_id: int
) -> StatusDefinition:
    key = checked_key(key, max_length=32)
    if await session.get(StatusDefinition, key) is not None:
        raise Conflict("status %(key)r already exists", key=key)
    status = StatusDefinition(
        key=key,
        type=checked_type(type),
        label=checked_label(label),
        position=position if position is not None else await _next_position(session, StatusDefinition),
    )
    session.add(status)
    await session.flush()
    await audit(session, actor_id=actor_id, action="status.added", subject=("status", key), data={"type": status.type})
    return status


async def change_status_definition(
    session: AsyncSession, key: str, *, type: str | None, label: dict[str, Any] | None, position: int | None, actor_id: int
) -> StatusDefinition:
    status = await session.get(StatusDefinition, key)
    if status is None:
        raise NotFound("status %(key)r not found", key=key)
    if type is not None and type != status.type:
        if key in BUILT_IN_STATUSES:
            raise Invalid("status %(key)r is built in: its type stays %(type)r (add a status of your own instead)", key=key, type=status.type)
        status.type = checked_type(type)
    if label is not None:
        status.label = checked_label(label)
    if position is not None:
        status.position = position
    await session.flush()
    await audit(session, actor_id=actor_id, action="status.changed", subject=("status", key), data={"type": status.type})
    return status


async def add_reason(
    session: AsyncSession, *, key: str, label: dict[str, Any], active: bool, position: int | None, actor_id: int
) -> ClosingReason:
    key = checked_key(key, max_length=64)
    if await session.get(ClosingReason, key) is not None:
        raise Conflict("reason %(key)r already exists", key=key)
    reason = ClosingReason(
        key=key,
        label=checked_label(label),
        active=active,
        position=position if position is not None else await _next_position(session, ClosingReason),
    )
    session.add(reason)
    await session.flush()
    await audit(session, actor_id=actor_id, action="reason.added", subject=("reason", key))
    return reason


async def change_reason(
    session: AsyncSession, key: str, *, label: dict[str, Any] | None, active: bool | None, position: int | None, actor_id: int
) -> ClosingReason:
    reason = await session.get(ClosingReason, key)
    if reason is None:
        raise NotFound("reason %(key)r not found", key=key)
    if label is not None:
        reason.label = checked_label(label)
    if active is not None:
        reason.active = active
    if position is not None:
        reason.position = position
    await session.flush()
    await audit(session, actor_id=actor_id, action="reason.changed", subject=("reason", key), data={"active": reason.active})
    return reason
