"""What people do to a conversation: change its status, assign, prioritise, escalate.

Each change is one named function that validates, applies, and records who did it and why: a
typed timeline entry on the customer and an outbox event of the same name (payloads are small
JSON: the operators' live feed relays them to browsers). A call that changes nothing records
nothing. Functions flush; the caller's transaction commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.bus.outbox import record_event
from okno.conversations.actors import VIA, current_actor
from okno.conversations.catalog import status_definition, usable_reason
from okno.kit.errors import Invalid, NotFound
from okno.kit.time import utcnow
from okno.kit.timers import cancel_timers
from okno.sla.policies import setup_for
from okno.models import ACTIVE_TYPES, FINISHED_TYPES, Conversation, Operator, OperatorKind, Priority, StatusDefinition, Team, TimelineEvent

MAX_COMMENT = 2000
# ``VIA`` (okno.conversations.actors) is set in ``session.info`` by code acting on its own (an
# automation rule: "automation:<id>", a timer: "timer:<name>"); it is written into the timeline
# entry and the event, and automations never react to such events
MAX_TAGS = 30
FEED_COMMENT = 200
SNOOZE_TIMER = "conversation.snooze"  # wakes a snoozed conversation (okno.conversations.snooze)


async def change_conversation_status(
    session: AsyncSession,
    *,
    conversation_id: int,
    status: str,
    reason: str | None,
    comment: str | None,
    actor_id: int | None,
    reason_required: bool = False,
) -> Conversation:
    conversation = await conversation_for_update(session, conversation_id)
    target = await status_definition(session, status)
    if reason is not None:
        await usable_reason(session, reason)
    if reason_required and target.type in FINISHED_TYPES and (reason or conversation.reason) is None:
        raise Invalid("a reason is required to set a status of type %(type)r", type=target.type)
    comment = _comment(comment)
    if target.key == conversation.status and reason in (None, conversation.reason):
        return conversation
    previous, previous_type = conversation.status, await session.scalar(
        select(StatusDefinition.type).where(StatusDefinition.key == conversation.status)
    )
    now = utcnow()
    was_finished, is_finished = previous_type in FINISHED_TYPES, target.type in FINISHED_TYPES
    if is_finished and not was_finished:
        conversation.resolved_at = now
    elif was_finished and not is_finished:
        conversation.resolved_at = None  # reopened: the new open period starts now
    await end_snooze(session, conversation)  # any status change ends a snooze early
    conversation.status = target.key
    if reason is not None:
        conversation.reason = reason
    if target.type not in ACTIVE_TYPES:
        conversation.queued_at = None
    elif conversation.assignee_id is None and conversation.team_id is not None and conversation.queued_at is None:
        conversation.queued_at = now
    await record_change(
        session,
        conversation,
        "conversation.status_changed",
        actor_id=actor_id,
        at=now,
        data={"from": previous, "to": target.key, "type": target.type, "reason": conversation.reason, "comment": comment},
        feed={"status": target.key},
    )
    return conversation


async def assign_conversation(
    session: AsyncSession,
    *,
    conversation_id: int,
    operator_id: int | None,
    team_id: int | None,
    change_team: bool,
    comment: str | None,
    actor_id: int | None,
    strategy: str | None = None,
) -> Conversation:
    """Give the conversation to ``operator_id`` (None: to nobody) and, with ``change_team``, to
    ``team_id`` (None: no team). A transfer is an assignment to another operator or team. An
    unassigned conversation with a team waits in that team's queue. ``strategy`` names the
    assignment strategy when routing (not a person) decided."""
    conversation = await conversation_for_update(session, conversation_id)
    if operator_id is not None:
        await _active_operator(session, operator_id)
    if change_team and team_id is not None:
        await _existing_team(session, team_id)
    new_team = team_id if change_team else conversation.team_id
    comment = _comment(comment)
    if operator_id == conversation.assignee_id and new_team == conversation.team_id:
        return conversation
    data = {
        "from": conversation.assignee_id,
        "to": operator_id,
        "team_from": conversation.team_id,
        "team_to": new_team,
        "comment": comment,
    }
    if strategy is not None:
        data["strategy"] = strategy
    if new_team != conversation.team_id:
        await _keep_sla_policy(session, conversation)
    now = utcnow()
    if operator_id is not None and operator_id != conversation.assignee_id:
        conversation.assigned_at = now
    conversation.assignee_id, conversation.team_id = operator_id, new_team
    _queue_if_waiting(conversation, now)
    await record_change(
        session,
        conversation,
        "conversation.assigned",
        actor_id=actor_id,
        at=now,
        data=data,
        feed={"operator_id": operator_id, "team_id": new_team},
    )
    return conversation


async def set_conversation_priority(
    session: AsyncSession, *, conversation_id: int, priority: int, actor_id: int | None, comment: str | None = None
) -> Conversation:
    if priority not in Priority._value2member_map_:
        raise Invalid("priority must be one of %(choices)s", choices=', '.join(f'{p.value} ({p.name})' for p in Priority))
    conversation = await conversation_for_update(session, conversation_id)
    if conversation.priority == priority:
        return conversation
    data = {"from": conversation.priority, "to": priority, "comment": _comment(comment)}
    conversation.priority = priority
    await record_change(session, conversation, "conversation.priority_changed", actor_id=actor_id, at=utcnow(), data=data)
    return conversation


async def tag_conversation(
    session: AsyncSession, *, conversation_id: int, tags: list[str], actor_id: int | None
) -> Conversation:
    """Adds tags (lower-cased, no repeats)."""
    conversation = await conversation_for_update(session, conversation_id)
    clean = [t.strip().lower() for t in tags if t.strip()]
    if any(len(t) > 64 for t in clean):
        raise Invalid("a tag is at most 64 characters")
    merged = list(dict.fromkeys([*(conversation.tags or []), *clean]))
    if merged == list(conversation.tags or []):
        return conversation
    if len(merged) > MAX_TAGS:
        raise Invalid("a conversation has at most %(num)s tag", plural="a conversation has at most %(num)s tags", num=MAX_TAGS)
    data = {"added": [t for t in merged if t not in (conversation.tags or [])], "tags": merged}
    conversation.tags = merged
    await record_change(session, conversation, "conversation.tagged", actor_id=actor_id, at=utcnow(), data=data)
    return conversation


async def untag_conversation(
    session: AsyncSession, *, conversation_id: int, tags: list[str], actor_id: int | None
) -> Conversation:
    """Removes tags (compared lower-cased); a tag the conversation lacks is no change."""
    conversation = await conversation_for_update(session, conversation_id)
    gone = {t.strip().lower() for t in tags}
    kept = [t for t in (conversation.tags or []) if t not in gone]
    if kept == list(conversation.tags or []):
        return conversation
    data = {"removed": [t for t in (conversation.tags or []) if t in gone], "tags": kept}
    conversation.tags = kept
    await record_change(session, conversation, "conversation.untagged", actor_id=actor_id, at=utcnow(), data=data)
    return conversation


async def escalate_conversation(
    session: AsyncSession, *, conversation_id: int, team_id: int, comment: str, actor_id: int | None, trigger: str = "manual"
) -> Conversation:
    """Hand the conversation to ``team_id``'s queue (nobody assigned), saying why."""
    comment = _comment(comment)
    if not comment:
        raise Invalid("comment must say why the conversation is escalated")
    conversation = await conversation_for_update(session, conversation_id)
    await _existing_team(session, team_id)
    data = {
        "from": conversation.team_id,
        "to": team_id,
        "previous_assignee": conversation.assignee_id,
        "trigger": trigger,
        "comment": comment,
    }
    await _keep_sla_policy(session, conversation)
    conversation.team_id, conversation.assignee_id, conversation.queued_at = team_id, None, None
    _queue_if_waiting(conversation, utcnow())
    await record_change(
        session, conversation, "conversation.escalated", actor_id=actor_id, at=utcnow(), data=data, feed={"team_id": team_id}
    )
    return conversation


async def _keep_sla_policy(session: AsyncSession, conversation: Conversation) -> None:
    """A transfer or escalation moves the queue, not the promise: the SLA policy the
    conversation was under stays (its clocks follow the new team's calendar)."""
    if conversation.sla_policy_id is None:
        governing = (await setup_for(session, conversation)).policy
        conversation.sla_policy_id = governing.id if governing is not None else None


async def end_snooze(session: AsyncSession, conversation: Conversation) -> datetime | None:
    """Forget the conversation's snooze and its wake-up timer; returns when it would have woken."""
    until, conversation.snoozed_until = conversation.snoozed_until, None
    if until is not None:
        await cancel_timers(session, SNOOZE_TIMER, [conversation.id])
    return until


def _queue_if_waiting(conversation: Conversation, now: datetime) -> None:
    """Nobody assigned but a team: it waits in the team's queue (from now, if it was not already)."""
    if conversation.assignee_id is not None or conversation.team_id is None:
        conversation.queued_at = None
    elif conversation.queued_at is None:
        conversation.queued_at = now


async def conversation_for_update(session: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None:
        raise NotFound("%(what)s %(id)s not found", what="conversation", id=conversation_id)
    return conversation


async def _active_operator(session: AsyncSession, operator_id: int) -> Operator:
    operator = await session.get(Operator, operator_id)
    if operator is None or operator.kind == OperatorKind.integration.value:  # an API token is never assigned
        raise Invalid("%(what)s %(id)s does not exist", what="operator", id=operator_id)
    if not operator.is_active:
        raise Invalid("%(what)s %(id)s is deactivated", what="operator", id=operator_id)
    return operator


async def _existing_team(session: AsyncSession, team_id: int) -> Team:
    team = await session.get(Team, team_id)
    if team is None:
        raise Invalid("%(what)s %(id)s does not exist", what="team", id=team_id)
    return team


def _comment(comment: str | None) -> str | None:
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise Invalid("comment is longer than %(num)s character", plural="comment is longer than %(num)s characters", num=MAX_COMMENT)
    return comment or None


async def record_change(
    session: AsyncSession,
    conversation: Conversation,
    kind: str,
    *,
    actor_id: int | None,
    at: datetime,
    data: dict[str, Any],
    feed: dict[str, Any] | None = None,
) -> None:
    """One typed timeline entry (who, why) and the outbox event of the same name."""
    await session.flush()
    if via := session.info.get(VIA):
        data = {**data, "via": via}
    session.add(
        TimelineEvent(
            customer_id=conversation.customer_id,
            conversation_id=conversation.id,
            actor_id=actor_id,
            **current_actor(session, actor_id).columns(),
            kind=kind,
            data={"conversation_id": conversation.id, "by": actor_id, **data},
            occurred_at=at,
        )
    )
    payload = {"conversation_id": conversation.id, "customer_id": conversation.customer_id, "by": actor_id, **data, **(feed or {})}
    if payload.get("comment"):
        payload["comment"] = payload["comment"][:FEED_COMMENT]  # the timeline keeps it whole
    await record_event(session, kind, payload)
