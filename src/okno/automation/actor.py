"""What a rule does is the rule's: every message and timeline entry written while it runs carries
``actor_type='automation'`` and ``actor_ref=<rule id>``, and the changes it makes are marked
``via: automation:<id>`` (the loop guard, ``okno.automation.engine``).

The actions call the same domain functions operators do; those record whoever acts in the session
(``okno.conversations.actors``), so the rule is set as that actor while it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from okno.conversations.actors import Actor, acting_as
from okno.models import ActorType, Message, TimelineEvent

VIA_PREFIX = "automation:"


def mark_as_rule(row: Message | TimelineEvent, rule_id: int) -> None:
    row.actor_type = ActorType.automation.value
    row.actor_ref = str(rule_id)


@contextmanager
def acting_as_rule(session: AsyncSession, rule_id: int) -> Iterator[None]:
    """While open, what ``session`` records is the rule's: the domain functions the actions call
    record this actor, and the via marker (the loop guard) reads "automation:<rule id>"."""
    with acting_as(session, Actor.automation(rule_id)):
        yield
