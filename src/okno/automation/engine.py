"""Runs automation rules on the events they name.

Loop guard: whatever an automation does is marked ``via: automation:<id>`` (in its timeline
entries and events), and automations never react to such events — so a rule that changes a
status cannot trigger itself or another rule, however the rules are written. A rule runs at most
once per conversation per event (a redelivered event is recognised by its id). Each rule runs in
its own savepoint: one whose action fails (a status removed since, a channel switched off) is
rolled back and recorded as ``automation.failed`` on the timeline; the others still apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.automation.webhook_calls import record_webhook_call
from okno.bus.events import Event
from okno.conversations import lifecycle
from okno.conversations.replies import post_operator_message
from okno.kit.db_cache import DatabaseCache
from okno.kit.errors import Invalid, OknoError
from okno.knowledge.canned import render_answer
from okno.models import AutomationRule, Conversation, TimelineEvent
from okno.routing.escalation import escalation_team_of
from okno.routing.facts import conversations_of, read_facts
from okno.routing.matching import contact_windows, matches

if TYPE_CHECKING:
    from okno.bus.deps import SubscriberDeps

VIA_PREFIX = "automation:"
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
        session.info[lifecycle.VIA] = f"{VIA_PREFIX}{rule.id}"
        try:
            async with session.begin_nested():
                for index, action in enumerate(rule.actions):
                    await _perform(deps, session, conversation_id, action, rule_id=rule.id, index=index, event=event)
            kind, detail = "automation.applied", {"actions": [a["type"] for a in rule.actions]}
        except OknoError as exc:
            kind, detail = "automation.failed", {"error": exc.detail}
        finally:
            session.info.pop(lifecycle.VIA, None)
        session.add(
            TimelineEvent(
                customer_id=conversation.customer_id,
                conversation_id=conversation_id,
                kind=kind,
                data={"rule_id": rule.id, "rule": rule.name, "event_id": event.id, "trigger": event.topic, **detail},
                occurred_at=event.created_at,
            )
        )
        await session.flush()


async def _perform(  # noqa: C901 - one branch per action type
    deps: SubscriberDeps, session: AsyncSession, conversation_id: int, action: dict[str, Any], *, rule_id: int, index: int, event: Event
) -> None:
    kind = action["type"]
    if kind == "set_priority":
        await lifecycle.set_conversation_priority(session, conversation_id=conversation_id, priority=action["priority"], actor_id=None)
    elif kind == "set_status":
        await lifecycle.change_conversation_status(
            session, conversation_id=conversation_id, status=action["status"], reason=action.get("reason"), comment=None, actor_id=None,
            reason_required=deps.settings.require_reason_to_resolve,
        )
    elif kind == "add_tags":
        await lifecycle.tag_conversation(session, conversation_id=conversation_id, tags=action["tags"], actor_id=None)
    elif kind == "assign":
        await lifecycle.assign_conversation(
            session, conversation_id=conversation_id, operator_id=action.get("operator_id"), team_id=action.get("team_id"),
            change_team="team_id" in action, comment=None, actor_id=None,
        )
    elif kind == "escalate":  # e.g. on sla.warning, on keywords, on a customer's Nth contact about one reason
        await _escalate(session, conversation_id, action)
    elif kind == "add_note":
        await post_operator_message(session, conversation_id=conversation_id, author_id=None, text=action["text"], internal=True)  # type: ignore[arg-type]
    elif kind == "send_canned_answer":
        rendered = await render_answer(session, action["answer_id"], conversation_id=conversation_id, operator=None)
        # an automated reply: no author, so it never counts as a human response for the SLA
        await post_operator_message(session, conversation_id=conversation_id, author_id=None, text=rendered["text"])  # type: ignore[arg-type]
    elif kind == "call_webhook":  # a durable job: the HTTP call happens after commit, in the webhook worker
        await record_webhook_call(
            session, conversation_id=conversation_id, rule_id=rule_id, action_index=index, event=event, url=action["url"],
            secret_sealed=action.get("secret_sealed"),
        )


async def _escalate(session: AsyncSession, conversation_id: int, action: dict[str, Any]) -> None:
    """To the action's team, or else one step up the conversation's escalation path; a rule
    escalates a conversation once (a keyword in every message does not climb every tier)."""
    conversation = await lifecycle.conversation_for_update(session, conversation_id)
    earlier = await session.scalars(
        select(TimelineEvent.data).where(
            TimelineEvent.customer_id == conversation.customer_id,
            TimelineEvent.conversation_id == conversation_id,
            TimelineEvent.kind == "conversation.escalated",
        )
    )
    if any(data.get("via") == session.info[lifecycle.VIA] for data in earlier):
        return
    team_id = action.get("team_id") or await escalation_team_of(session, conversation)
    if team_id is None:
        where = f"team {conversation.team_id} has no escalation team" if conversation.team_id else "the conversation has no team"
        raise Invalid(f"nowhere to escalate: {where}")
    await lifecycle.escalate_conversation(
        session, conversation_id=conversation_id, team_id=team_id, comment=action["comment"], actor_id=None, trigger="automation"
    )


async def _already_ran(session: AsyncSession, conversation: Conversation, event_id: int) -> set[int]:
    entries = await session.scalars(
        select(TimelineEvent.data).where(
            TimelineEvent.customer_id == conversation.customer_id,
            TimelineEvent.conversation_id == conversation.id,
            TimelineEvent.kind.in_(("automation.applied", "automation.failed")),
        )
    )
    return {data["rule_id"] for data in entries if data.get("event_id") == event_id}
