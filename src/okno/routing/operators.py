"""Operators as routing sees them: presence (only online operators get conversations), and the
attributes admins set: experienced (VIP customers go to them), skills, capacity per medium."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.routing.events import OperatorPresenceChanged, OperatorRoutingChanged
from okno.kit.audit import audit
from okno.kit.errors import Invalid, NotFound
from okno.kit.time import utcnow
from okno.models import DEFAULT_CAPACITY, Operator, OperatorKind, Presence

MEDIA = tuple(DEFAULT_CAPACITY)  # chat, email, call
MAX_CAPACITY = 1000
MAX_SKILLS = 50


async def set_operator_presence(session: AsyncSession, *, operator_id: int, presence: str) -> Operator:
    if presence not in Presence.__members__:
        raise Invalid("unknown presence %(presence)r (one of: %(choices)s)", presence=presence, choices=', '.join(Presence.__members__))
    operator = await _operator(session, operator_id)
    if operator.kind == OperatorKind.integration.value:
        raise Invalid("an API token has no presence: it is never routed conversations")
    if operator.presence == presence:
        return operator
    previous, now = operator.presence, utcnow()
    operator.presence, operator.presence_changed_at = presence, now
    await session.flush()
    await record_event(session, OperatorPresenceChanged(operator_id=operator.id, from_=previous, to=presence))
    return operator


async def change_routing_profile(
    session: AsyncSession,
    *,
    operator_id: int,
    experienced: bool | None,
    skills: list[str] | None,
    capacity: dict[str, int] | None,
    actor_id: int,
) -> Operator:
    operator = await _operator(session, operator_id)
    changed: dict = {}
    if experienced is not None:
        operator.experienced = changed["experienced"] = experienced
    if skills is not None:
        operator.skills = changed["skills"] = checked_skills(skills)
    if capacity is not None:
        operator.capacity = changed["capacity"] = {**operator.capacity, **checked_capacity(capacity)}
    if changed:
        await session.flush()
        await audit(session, actor_id=actor_id, action="operator.routing_changed", subject=("operator", operator.id), data=changed)
        await record_event(session, OperatorRoutingChanged(operator_id=operator.id))
    return operator


def checked_skills(skills: list[str]) -> list[str]:
    clean: list[str] = []
    for raw in skills:
        skill = raw.strip().lower()
        if not skill or len(skill) > 64:
            raise Invalid("skill %(raw)r must be 1–64 characters", raw=raw)
        if skill not in clean:
            clean.append(skill)
    if len(clean) > MAX_SKILLS:
        raise Invalid("an operator has at most %(num)s skill", plural="an operator has at most %(num)s skills", num=MAX_SKILLS)
    return clean


def checked_capacity(capacity: dict[str, int]) -> dict[str, int]:
    unknown = sorted(set(capacity) - set(MEDIA))
    if unknown:
        raise Invalid("capacity has unknown channel types %(unknown)s (known: %(media)s)", unknown=unknown, media=', '.join(MEDIA))
    for medium, limit in capacity.items():
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_CAPACITY:
            raise Invalid("capacity for %(medium)r must be a whole number from 0 to %(max_capacity)s", medium=medium, max_capacity=MAX_CAPACITY)
    return dict(capacity)


async def _operator(session: AsyncSession, operator_id: int) -> Operator:
    operator = await session.get(Operator, operator_id, with_for_update=True)
    if operator is None:
        raise NotFound("%(what)s %(id)s not found", what="operator", id=operator_id)
    return operator
