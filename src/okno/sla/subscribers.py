"""Bus subscribers: every event that can move a conversation's SLA clocks re-syncs them.

The event's own time is the moment of the change (a pause starts when the status changed, not
when the relay got round to it). Policy, calendar and team changes re-sync every conversation
they govern, a batch per transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.events import Event
from okno.conversations.catalog import unfinished_status_keys
from okno.kit.db_cache import DatabaseCache
from okno.models import OPEN_TARGET_STATES, Conversation, SlaPolicy, SlaTarget
from okno.sla.policies import SlaLookups
from okno.sla.tracking import sync_conversation_sla, sync_conversations_sla

if TYPE_CHECKING:
    from okno.bus.deps import SubscriberDeps

BATCH = 200
# events after which a dry run on a read session usually shows nothing to do
READ_FIRST_TOPICS = frozenset({"message.received"})
_policy_seen: DatabaseCache[bool] = DatabaseCache(seconds=5.0)  # once found, for good

# events whose payload names a conversation whose clocks may have moved
CONVERSATION_TOPICS = (
    "conversation.opened",
    "conversation.routed",
    "conversation.status_changed",
    "conversation.priority_changed",
    "conversation.assigned",
    "conversation.escalated",
    "message.received",
    "message.queued",
)


async def track_conversation(deps: SubscriberDeps, event: Event) -> None:
    if not await _any_policy(deps):
        return
    if event.topic in READ_FIRST_TOPICS:  # most customer messages move no clock: find out on a reader
        async with deps.db.reading() as session:
            if not await sync_conversation_sla(session, event.payload["conversation_id"], at=event.created_at, write=False):
                return
    async with deps.db.transaction() as session:
        await sync_conversation_sla(session, event.payload["conversation_id"], at=event.created_at)


async def track_conversations(deps: SubscriberDeps, events: list[Event]) -> None:
    """The batch form: a round's events (one per conversation) in one transaction, the
    conversations, their targets and messages read in one statement each and the lookups (status
    types, the default policy, calendars) once. No dry run first: a sync that moves nothing writes nothing."""
    if not await _any_policy(deps):
        return
    async with deps.db.transaction() as session:
        moments = [(event.payload["conversation_id"], event.created_at) for event in events]
        await sync_conversations_sla(session, moments, lookups=SlaLookups())


async def _any_policy(deps: SubscriberDeps) -> bool:
    """Whether SLA is configured at all (cached briefly; a policy change here refreshes it)."""
    async def load(session: AsyncSession) -> bool:
        return await session.scalar(select(SlaPolicy.id).limit(1)) is not None

    found = await _policy_seen.get(deps.db, load)
    if found:
        _policy_seen.put(deps.db, True, for_good=True)
    return found


async def recompute_after_policy_change(deps: SubscriberDeps, event: Event) -> None:
    _policy_seen.put(deps.db, True, for_good=True)
    governed = _with_open_targets(SlaTarget.policy_id == event.payload["policy_id"])
    queries = [governed]
    if event.payload.get("is_default"):  # the default governs every conversation that names no policy
        queries.append(select(Conversation.id).where(Conversation.status.in_(unfinished_status_keys())))
    await _resync(deps, queries, event)


async def recompute_after_calendar_change(deps: SubscriberDeps, event: Event) -> None:
    await _resync(deps, [_with_open_targets(SlaTarget.calendar_id == event.payload["calendar_id"])], event)


async def recompute_after_team_change(deps: SubscriberDeps, event: Event) -> None:
    unfinished = select(Conversation.id).where(
        Conversation.team_id == event.payload["team_id"], Conversation.status.in_(unfinished_status_keys())
    )
    await _resync(deps, [unfinished], event)


def _with_open_targets(condition: object) -> Select:
    return select(SlaTarget.conversation_id).where(condition, SlaTarget.state.in_(OPEN_TARGET_STATES)).distinct()


async def _resync(deps: SubscriberDeps, queries: Iterable[Select], event: Event) -> None:
    ids: set[int] = set()
    async with deps.db.reading() as session:
        for query in queries:
            ids.update(await session.scalars(query))
    ordered = sorted(ids)
    for start in range(0, len(ordered), BATCH):
        async with deps.db.transaction() as session:
            moments = [(conversation_id, event.created_at) for conversation_id in ordered[start : start + BATCH]]
            await sync_conversations_sla(session, moments, lookups=SlaLookups())
