"""Where a conversation goes: routing rules run on every new conversation (and on the other
events a rule lists), then the channel's team is the fallback queue.

The first matching rule that sets a team, priority or SLA policy decides it; tags and required
skills add up; a matching rule with ``stop`` ends the evaluation. The result is one
``conversation.routed`` timeline entry (which rules, what changed) and outbox event, which the
queues and the SLA clocks act on. A redelivered event is recognised by its id and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.events import Event
from okno.bus.outbox import record_event, record_events
from okno.routing.events import ConversationRouted
from okno.kit.bulk import BulkInsert
from okno.kit.db_cache import DatabaseCache
from okno.models import Conversation, RoutingRule, TimelineEvent
from okno.routing.facts import conversations_of, read_facts
from okno.routing.matching import Facts, contact_windows, matches

if TYPE_CHECKING:
    from okno.bus.deps import SubscriberDeps

OPENED = "conversation.opened"
DEFAULT_MEDIUM = "chat"  # what a conversation counts as until its channel says otherwise
_topics_with_rules_cache: DatabaseCache[frozenset[str]] = DatabaseCache(seconds=5.0)  # topics some enabled rule lists


async def route_new_conversation(deps: SubscriberDeps, event: Event) -> None:
    """Subscribed to conversation.opened and to every topic a rule may list."""
    rules: list[RoutingRule] = []
    if event.topic in await _topics_with_rules(deps):
        async with deps.db.reading() as session:
            rules = _rules_for(event.topic, await _enabled_rules(session))
    if not rules and not await _opened_from_routing_channel(deps, event):
        return  # nothing can change: no transaction at all (most customer messages, team-less channels)
    async with deps.db.reading() as session:
        conversation_ids = await conversations_of(session, event)
    for conversation_id in conversation_ids:
        async with deps.db.transaction() as session:
            await route_conversation(deps, session, conversation_id, rules, event)


async def route_new_conversations(deps: SubscriberDeps, events: list[Event]) -> None:
    """The batch form: a round's events in order in one transaction, the rules read once, the
    conversations it routes (locked, in id order) and their earlier routing entries read in one
    statement each, the timeline entries and events written together at the end."""
    with_rules = await _topics_with_rules(deps)
    from_routing = [await _opened_from_routing_channel(deps, event) for event in events]  # the channel cache: no statement
    if not any(from_routing) and not any(event.topic in with_rules for event in events):
        return  # nothing can change: no transaction at all (a round of customers' messages, team-less channels)
    enabled: list[RoutingRule] | None = None
    written: list[tuple[dict[str, Any], ConversationRouted]] = []
    async with deps.db.transaction() as session:
        with session.no_autoflush:  # each conversation reads only its own rows: one flush at the end
            todo: list[tuple[Event, list[RoutingRule]]] = []
            for event, routing_channel in zip(events, from_routing, strict=True):
                rules: list[RoutingRule] = []
                if event.topic in with_rules:
                    if enabled is None:
                        enabled = await _enabled_rules(session)
                    rules = _rules_for(event.topic, enabled)
                if rules or routing_channel:
                    todo.append((event, rules))
            ahead = await _read_ahead(session, [event for event, _ in todo])
            for event, rules in todo:
                for conversation_id in await conversations_of(session, event):
                    await route_conversation(deps, session, conversation_id, rules, event, written=written, ahead=ahead)
        await _TIMELINE.run(session, [tuple(entry[name] for name in _TIMELINE.columns) for entry, _ in written])
        await record_events(session, [routed for _, routed in written])


# the routing entries go to the driver as tuples (okno.kit.bulk)
_TIMELINE = BulkInsert(TimelineEvent.__table__, ("customer_id", "conversation_id", "channel_id", "kind", "data", "occurred_at"))


@dataclass
class _Ahead:
    """A round's conversations (None: erased) and the event ids each was already routed for."""

    conversations: dict[int, Conversation | None] = field(default_factory=dict)
    routed_for: dict[int, set[int]] = field(default_factory=dict)


async def _read_ahead(session: AsyncSession, events: list[Event]) -> _Ahead:
    ahead = _Ahead()
    ids = sorted({e.payload["conversation_id"] for e in events if isinstance(e.payload.get("conversation_id"), int)})
    if not ids:
        return ahead
    ahead.conversations = dict.fromkeys(ids)
    query = select(Conversation).where(Conversation.id.in_(ids)).order_by(Conversation.id).with_for_update()
    ahead.conversations.update((c.id, c) for c in await session.scalars(query))
    customers = sorted({c.customer_id for c in ahead.conversations.values() if c is not None})
    entries = await session.execute(
        select(TimelineEvent.conversation_id, TimelineEvent.data).where(
            TimelineEvent.customer_id.in_(customers), TimelineEvent.conversation_id.in_(ids), TimelineEvent.kind == "conversation.routed"
        )
    )
    for conversation_id, data in entries:
        ahead.routed_for.setdefault(conversation_id, set()).add(data.get("event_id"))
    return ahead


async def _enabled_rules(session: AsyncSession) -> list[RoutingRule]:
    query = select(RoutingRule).where(RoutingRule.enabled.is_(True)).order_by(RoutingRule.position, RoutingRule.id)
    return list(await session.scalars(query))


def _rules_for(topic: str, enabled: list[RoutingRule]) -> list[RoutingRule]:
    return [r for r in enabled if topic in r.events]


async def _opened_from_routing_channel(deps: SubscriberDeps, event: Event) -> bool:
    return event.topic == OPENED and await _channel_routes(deps, event.payload.get("channel_id"))


async def route_conversation(
    deps: SubscriberDeps,
    session: AsyncSession,
    conversation_id: int,
    rules: list[RoutingRule],
    event: Event,
    *,
    written: list[tuple[dict[str, Any], ConversationRouted]] | None = None,
    ahead: _Ahead | None = None,
) -> None:
    """``written``: where a batch collects the timeline entry and event to write them all at once;
    ``ahead``: the batch's conversations and routing entries, read ahead."""
    if ahead is not None and conversation_id in ahead.conversations:
        conversation = ahead.conversations[conversation_id]
        if conversation is None or event.id in ahead.routed_for.get(conversation_id, ()):
            return
    else:
        conversation = await session.get(Conversation, conversation_id, with_for_update=True)
        if conversation is None or await _already_routed(session, conversation, event.id):
            return
    channel = await deps.channels.get(conversation.channel_id) if conversation.channel_id is not None else None
    matched: list[str] = []
    actions: dict[str, Any] = {}
    if rules:  # the facts are for the rules' conditions: none to match, none to read
        facts = await read_facts(
            session, conversation, event, channel_kind=channel.kind if channel is not None else None, windows=contact_windows(rule.conditions for rule in rules)
        )
        matched, actions = decide(rules, facts)
    if event.topic == OPENED and "team_id" not in actions and channel is not None and channel.team_id is not None:
        actions["team_id"] = channel.team_id
        matched.append("channel team")
    if event.topic == OPENED and channel is not None:
        conversation.medium = channel.adapter.capabilities.medium
    changes = _apply(conversation, actions)
    if event.topic == OPENED and conversation.team_id is not None and conversation.assignee_id is None and conversation.queued_at is None:
        conversation.queued_at = conversation.created_at  # waiting since the customer wrote
    if not changes and event.topic != OPENED:
        return
    data = {"event_id": event.id, "trigger": event.topic, "rules": matched, **changes}
    entry = {
        "customer_id": conversation.customer_id, "conversation_id": conversation.id, "channel_id": conversation.channel_id,
        "kind": "conversation.routed", "data": data, "occurred_at": event.created_at,
    }
    routed = ConversationRouted(conversation_id=conversation.id, customer_id=conversation.customer_id, team_id=conversation.team_id, rules=matched[:10])
    if written is not None:
        written.append((entry, routed))
        return
    await session.flush()
    session.add(TimelineEvent(**entry))
    await record_event(session, routed)


async def _channel_routes(deps: SubscriberDeps, channel_id: int | None) -> bool:
    """Whether a new conversation from this channel gets something from it: a team or a medium."""
    channel = await deps.channels.get(channel_id) if channel_id is not None else None
    return channel is not None and (channel.team_id is not None or channel.adapter.capabilities.medium != DEFAULT_MEDIUM)


def forget_rules() -> None:
    """Rules changed in this process: read them afresh (other processes within the cache time)."""
    _topics_with_rules_cache.forget()


async def _topics_with_rules(deps: SubscriberDeps) -> frozenset[str]:
    async def load(session: AsyncSession) -> frozenset[str]:
        return frozenset(t for events in await session.scalars(select(RoutingRule.events).where(RoutingRule.enabled.is_(True))) for t in events)

    return await _topics_with_rules_cache.get(deps.db, load)


def decide(rules: list[RoutingRule], facts: Facts) -> tuple[list[str], dict[str, Any]]:
    matched: list[str] = []
    actions: dict[str, Any] = {}
    for rule in rules:
        if not matches(rule.conditions, facts):
            continue
        matched.append(rule.name)
        for key in ("team_id", "priority", "sla_policy_id"):
            if key in rule.actions and key not in actions:
                actions[key] = rule.actions[key]
        for key in ("tags", "skills"):
            if key in rule.actions:
                actions[key] = list(dict.fromkeys([*actions.get(key, []), *rule.actions[key]]))
        if rule.stop:
            break
    return matched, actions


def _apply(conversation: Conversation, actions: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    team = actions.get("team_id")
    if team is not None and team != conversation.team_id and conversation.assignee_id is None:
        conversation.team_id = changes["team_id"] = team
        conversation.queued_at = conversation.created_at  # in the new team's queue, waiting since the customer wrote
    if "priority" in actions and actions["priority"] != conversation.priority:
        conversation.priority = changes["priority"] = actions["priority"]
    if "sla_policy_id" in actions and actions["sla_policy_id"] != conversation.sla_policy_id:
        conversation.sla_policy_id = changes["sla_policy_id"] = actions["sla_policy_id"]
    for key, column in (("tags", "tags"), ("skills", "required_skills")):
        current = list(getattr(conversation, column) or [])
        merged = list(dict.fromkeys([*current, *actions.get(key, [])]))
        if merged != current:
            setattr(conversation, column, merged)
            changes[key] = merged
    return changes


async def _already_routed(session: AsyncSession, conversation: Conversation, event_id: int) -> bool:
    entries = await session.scalars(
        select(TimelineEvent.data).where(
            TimelineEvent.customer_id == conversation.customer_id,
            TimelineEvent.conversation_id == conversation.id,
            TimelineEvent.kind == "conversation.routed",
        )
    )
    return any(data.get("event_id") == event_id for data in entries)
