"""A channel's health: ``ok``, or ``needs_action`` with the provider's reason (a revoked token, a
blocked account) seen by delivery or polling. A change is stored on the channel and emitted as
``channel.health_changed`` in the caller's transaction; reporting the same state again changes
nothing and emits nothing (the update is conditional, so concurrent workers can't emit twice)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.channels.events import ChannelHealthChanged
from okno.kit.time import utcnow
from okno.models import Channel

OK = "ok"
NEEDS_ACTION = "needs_action"
HEALTH_CHANGED = ChannelHealthChanged.topic
MAX_REASON = 1000


async def report_needs_action(session: AsyncSession, channel_id: int, reason: str) -> bool:
    """The channel needs an admin; True if that is news (the event was recorded)."""
    return await _set_health(session, channel_id, NEEDS_ACTION, reason[:MAX_REASON])


async def report_ok(session: AsyncSession, channel_id: int) -> bool:
    """The provider worked again (a send or a poll succeeded); True if the channel had needed action."""
    return await _set_health(session, channel_id, OK, None)


async def _set_health(session: AsyncSession, channel_id: int, health: str, reason: str | None) -> bool:
    now = utcnow()
    changed = (
        await session.execute(
            update(Channel)
            .where(Channel.id == channel_id, Channel.health != health)
            .values(health=health, health_reason=reason, health_changed_at=now)
            .returning(Channel.id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if changed is None:
        if health == NEEDS_ACTION:  # still needs action: keep the provider's latest words
            await session.execute(
                update(Channel)
                .where(Channel.id == channel_id, Channel.health_reason != reason)
                .values(health_reason=reason)
                .execution_options(synchronize_session=False)
            )
        return False
    previous = OK if health == NEEDS_ACTION else NEEDS_ACTION
    await record_event(session, ChannelHealthChanged(channel_id=channel_id, health=health, previous=previous, reason=reason))
    return True
