"""What a rule does is the rule's: every message and timeline entry written while it runs carries
``actor_type='automation'`` and ``actor_ref=<rule id>``, and the changes it makes are marked
``via: automation:<id>`` (the loop guard, ``okno.automation.engine``).

The actions call the same domain functions operators do; rather than thread the rule through each
of them, the session marks what it flushes while the rule is acting.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from okno.conversations.actors import Actor, acting_as
from okno.models import ActorType, Message, TimelineEvent

VIA_PREFIX = "automation:"


def mark_as_rule(row: Message | TimelineEvent, rule_id: int) -> None:
    row.actor_type = ActorType.automation.value
    row.actor_ref = str(rule_id)


@contextmanager
def acting_as_rule(session: AsyncSession, rule_id: int) -> Iterator[None]:
    """While open, what ``session`` flushes (messages, timeline entries) is the rule's. Flush
    before it closes: rows still pending then are not marked."""

    def mark_new_rows(sync_session: Session, _context: Any, _instances: Any) -> None:
        for row in sync_session.new:
            if isinstance(row, Message | TimelineEvent):
                mark_as_rule(row, rule_id)

    target = session.sync_session
    event.listen(target, "before_flush", mark_new_rows)
    try:
        # the domain functions the actions call record this actor, and the via marker (the loop
        # guard) reads "automation:<rule id>"
        with acting_as(session, Actor.automation(rule_id)):
            yield
    finally:
        event.remove(target, "before_flush", mark_new_rows)
