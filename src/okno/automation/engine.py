"""Runs automation rules on the events they name.

Loop guard: whatever an automation does is marked ``via: automation:<id>`` (in its timeline
entries and events), and automations never react to such events — so a rule that changes a
status cannot trigger itself or another rule, however the rules are written. A rule runs at most
once per conversation per event (a redelivered event is recognised by its id). Each rule runs in
its own savepoint: one whose action fails (a status removed since, a channel switched off) is
rolled back and recorded as ``automation.failed`` on the timeline; the others still apply.

Each action is a module of ``okno.automation.actions``; what they write carries the rule as its
actor (``okno.automation.actor``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.automation.actions import ACTIONS, ActionRun
from okno.automation.actor import VIA_PREFIX, acting_as_rule, mark_as_rule
from okno.bus.events import Event
from okno.bus.inprocess import EventByEvent
from okno.kit.db_cache import DatabaseCache
from okno.kit.errors import Invalid, OknoError
from okno.models import AutomationRule, Conversation, TimelineEvent
from okno.routing.facts import conversations_of, read_facts
from okno.routing.matching import contact_windows, matches

if TYPE_CHECKING:
    from okno.bus.deps import SubscriberDeps

_events_with_rules_cache: DatabaseCache[frozenset[str]] = DatabaseCache(seconds=5.0)  # events some enabled rule names


async def run_automations(deps: SubscriberDeps, event: Event) -> None:
    if str(event.payload.get("via", "")).startswith(VIA_PREFIX):
        return  # caused by an automation: the loop guard
    if event.topic not in await _events_with_rules(deps):
        return
    async with deps.db.reading() as session:
        rules = list(
            await session.scalars(
                select(AutomationRule)
                .where(AutomationRule.enabled.is_(True), AutomationRule.event == event.topic)
                .order_by(AutomationRule.position, AutomationRule.id)
            )
        )
        if not rules:
            return
        conversation_ids = await conversations_of(session, event)
    for conversation_id in conversation_ids:
        async with deps.db.transaction() as session:
            await _run_on(deps, session, conversation_id, rules, event)


async def run_automations_many(deps: SubscriberDeps, events: list[Event]) -> None:
    """The batch form of :func:`run_automations`: nothing to do unless an enabled rule names one of
    the events' topics; then event by event (each event its own retry)."""
    with_rules = await _events_with_rules(deps)
    if any(event.topic in with_rules for event in events):
        raise EventByEvent


def forget_rules() -> None:
    """Rules changed in this process: read them afresh (other processes within the cache time)."""
    _events_with_rules_cache.forget()


async def _events_with_rules(deps: SubscriberDeps) -> frozenset[str]:
    async def load(session: AsyncSession) -> frozenset[str]:
        return frozenset(await session.scalars(select(AutomationRule.event).where(AutomationRule.enabled.is_(True)).distinct()))

    return await _events_with_rules_cache.get(deps.db, load)


async def _run_on(deps: SubscriberDeps, session: AsyncSession, conversation_id: int, rules: list[AutomationRule], event: Event) -> None:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return
    done = await _already_ran(session, conversation, event.id)
    channel = await deps.channels.get(conversation.channel_id) if conversation.channel_id is not None else None
    windows = contact_windows(rule.conditions for rule in rules)
    facts = await read_facts(session, conversation, event, channel_kind=channel.kind if channel is not None else None, windows=windows)
    for rule in rules:
        if rule.id in done or not matches(rule.conditions, facts):
            continue
        try:
            with acting_as_rule(session, rule.id):
                async with session.begin_nested():
                    for index, action in enumerate(rule.actions):
                        run = ActionRun(session, conversation_id, rule.id, index, event, reason_required=deps.settings.require_reason_to_resolve,
                                        auto_reply_limit=deps.settings.auto_replies_per_sender_per_hour)
                        await _perform(run, action)
                    await session.flush()
            kind, detail = "automation.applied", {"actions": [a["type"] for a in rule.actions]}
        except OknoError as exc:
            kind, detail = "automation.failed", {"error": exc.detail}
        outcome = TimelineEvent(
            customer_id=conversation.customer_id,
            conversation_id=conversation_id,
            kind=kind,
            data={"rule_id": rule.id, "rule": rule.name, "event_id": event.id, "trigger": event.topic, **detail},
            occurred_at=event.created_at,
        )
        mark_as_rule(outcome, rule.id)
        session.add(outcome)
        await session.flush()


async def _perform(run: ActionRun, action: dict) -> None:
    performer = ACTIONS.get(action.get("type"))
    if performer is None:  # a plugin's action, its package since uninstalled
        raise Invalid("action %(action)r is not installed", action=action.get('type'))
    await performer.perform(run, action)


async def _already_ran(session: AsyncSession, conversation: Conversation, event_id: int) -> set[int]:
    entries = await session.scalars(
        select(TimelineEvent.data).where(
            TimelineEvent.customer_id == conversation.customer_id,
            TimelineEvent.conversation_id == conversation.id,
            TimelineEvent.kind.in_(("automation.applied", "automation.failed")),
        )
    )
    return {data["rule_id"] for data in entries if data.get("event_id") == event_id}
