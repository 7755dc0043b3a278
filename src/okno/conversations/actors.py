"""Who did something: the actor recorded on messages and timeline entries.

Call sites pass an :class:`Actor` (``Actor.operator(id)``, ``Actor.automation(rule_id)``,
``Actor.system("timer:snooze")``…). Code acting on its own wraps its work in :func:`acting_as`,
so the lifecycle functions it calls record that actor without every signature carrying it; the
same context also sets the ``via`` marker that keeps automations from reacting to themselves.
Rows written before actors existed have no ``actor_type``: :func:`actor_of` reads them as an
operator when an operator id is set, the customer for an inbound message, and the system else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from okno.models import ActorType, Direction

ACTING = "okno.actor"  # session.info key: the Actor the current work is done by
VIA = "okno.via"  # session.info key: "automation:<rule id>" / "timer:<name>", copied into entries


@dataclass(frozen=True)
class Actor:
    type: ActorType
    operator_id: int | None = None  # an operator's id (messages.author_id / timeline actor_id)
    ref: str | None = None  # a rule id, a bot's key, the system job ("timer:snooze", "routing")

    @classmethod
    def operator(cls, operator_id: int) -> Actor:
        return cls(ActorType.operator, operator_id=operator_id)

    @classmethod
    def automation(cls, rule_id: int) -> Actor:
        return cls(ActorType.automation, ref=str(rule_id))

    @classmethod
    def system(cls, ref: str | None = None) -> Actor:
        return cls(ActorType.system, ref=ref)

    @classmethod
    def bot(cls, ref: str) -> Actor:
        return cls(ActorType.bot, ref=ref)

    @classmethod
    def customer(cls) -> Actor:
        return cls(ActorType.customer)

    @property
    def via(self) -> str | None:
        """The marker written into entries and events of things done on their own."""
        if self.type is ActorType.automation:
            return f"automation:{self.ref}"
        if self.type in (ActorType.system, ActorType.bot):
            return self.ref
        return None

    def columns(self) -> dict[str, Any]:
        """``actor_type`` / ``actor_ref`` column values (the operator id goes in its own column)."""
        return {"actor_type": self.type.value, "actor_ref": self.ref}

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type.value, "id": self.operator_id, "ref": self.ref}


CUSTOMER = Actor.customer()


@contextmanager
def acting_as(session: AsyncSession, actor: Actor) -> Iterator[None]:
    """Everything recorded in ``session`` inside the block is done by ``actor``."""
    before = session.info.get(ACTING), session.info.get(VIA)
    session.info[ACTING] = actor
    if actor.via:
        session.info[VIA] = actor.via
    try:
        yield
    finally:
        for key, value in zip((ACTING, VIA), before, strict=True):
            if value is None:
                session.info.pop(key, None)
            else:
                session.info[key] = value


def current_actor(session: AsyncSession, operator_id: int | None) -> Actor:
    """Who is acting: whoever :func:`acting_as` named, else the operator, else the system."""
    acting = session.info.get(ACTING)
    if acting is not None:
        return acting
    return Actor.operator(operator_id) if operator_id is not None else Actor.system()


def actor_of(actor_type: str | None, actor_ref: str | None, operator_id: int | None, *, direction: str | None = None) -> Actor:
    """The actor a stored row records (rows from before actors existed are read sensibly)."""
    if actor_type is not None and actor_type in ActorType._value2member_map_:
        return Actor(ActorType(actor_type), operator_id=operator_id, ref=actor_ref)
    if operator_id is not None:
        return Actor.operator(operator_id)
    if direction == Direction.inbound.value:
        return CUSTOMER
    return Actor.system(actor_ref)
