"""Keeps a conversation's SLA targets in step with what happened to it.

``sync_conversation_sla`` is idempotent: it reads the conversation (status type, priority,
governing policy and calendar) and its messages, works out which targets should exist and in
which state (docs/design.md's definitions: first response = first inbound message → first public
human reply; next response = each customer message that waits → the next human reply;
resolution = creation → resolution, a reopened conversation adding its new open period; a
status of type on hold pauses every clock), and moves the stored targets there. Then it sets the
conversation's ``sla_due_at`` and (re)schedules the warning and breach timers. Events call it
with their own time, so a redelivered event changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.kit.timers import cancel_timers_of_kinds, schedule_timers
from okno.models import (
    FINISHED_TYPES,
    OPEN_TARGET_STATES,
    Conversation,
    Direction,
    Message,
    Metric,
    SlaTarget,
    StatusDefinition,
    StatusType,
    TargetState,
)
from okno.sla import clock
from okno.sla.policies import SlaLookups, SlaSetup, setup_for

BREACH_TIMER, WARNING_TIMER = "sla.breach", "sla.warning"


@dataclass(frozen=True)
class Span:
    """When a target's clock should start and (if it has) stop."""

    metric: str
    cycle: int
    started_at: datetime
    completed_at: datetime | None


async def sync_conversation_sla(
    session: AsyncSession, conversation_id: int, *, at: datetime, write: bool = True, lookups: SlaLookups | None = None
) -> bool:
    """Brings the targets up to date; whether anything changed. With ``write=False`` nothing is
    written (a dry run on a read session tells whether a write transaction is needed at all).
    ``lookups``: what several syncs in one transaction read only once."""
    with session.no_autoflush:
        return await _sync(session, conversation_id, at=at, write=write, lookups=lookups)


async def _sync(session: AsyncSession, conversation_id: int, *, at: datetime, write: bool, lookups: SlaLookups | None) -> bool:
    conversation = await session.get(Conversation, conversation_id, with_for_update=write)
    if conversation is None:
        return False
    status_type = await _status_type(session, conversation.status, lookups)
    setup = await setup_for(session, conversation, lookups)
    targets = {
        (t.metric, t.cycle): t
        for t in await session.scalars(select(SlaTarget).where(SlaTarget.conversation_id == conversation_id))
    }
    before = {key: _snapshot(t) for key, t in targets.items()}
    spans = response_spans(await _exchanges(session, conversation_id))
    spans.append(Span(Metric.resolution.value, 1, conversation.created_at, None))
    finished, paused = status_type in FINISHED_TYPES, status_type == StatusType.on_hold.value

    for span in spans:
        seconds = setup.target_seconds(span.metric, conversation.priority)
        target = targets.get((span.metric, span.cycle))
        if target is None:
            if seconds is None:
                continue  # the governing policy sets no such target
            target = SlaTarget(conversation_id=conversation_id, metric=span.metric, cycle=span.cycle, policy_id=setup.policy.id)  # type: ignore[union-attr]
            clock.start_target(target, setup.calendar, at=span.started_at, target_seconds=seconds, warning_seconds=setup.warning_seconds)
            target.calendar_id = setup.calendar_id
            if write:
                session.add(target)
            targets[(span.metric, span.cycle)] = target
        _advance(target, span, setup, seconds, at=at, finished=finished, paused=paused, resolved_at=conversation.resolved_at)

    for target in targets.values():  # what the spans no longer explain: a finished conversation's unanswered clocks
        if target.state in OPEN_TARGET_STATES and finished and target.metric != Metric.resolution.value:
            clock.cancel_target(target, setup.calendar, at=at)
    running = [t.due_at for t in targets.values() if t.state == TargetState.running.value and t.due_at is not None]
    due = min(running) if running else None
    changed = due != conversation.sla_due_at or any(before.get(key) != _snapshot(t) for key, t in targets.items())
    if not write or not changed:
        return changed
    conversation.sla_due_at = due
    await session.flush()  # new targets get their ids for the timers
    await _schedule(session, targets, {key: snap[:4] for key, snap in before.items()})
    return True


async def _status_type(session: AsyncSession, status: str, lookups: SlaLookups | None) -> str | None:
    if lookups is not None and status in lookups.status_types:
        return lookups.status_types[status]
    found = await session.scalar(select(StatusDefinition.type).where(StatusDefinition.key == status))
    if lookups is not None:
        lookups.status_types[status] = found
    return found


def _snapshot(target: SlaTarget) -> tuple:
    return (
        target.state, target.due_at, target.warn_at, target.breached_at, target.target_seconds, target.policy_id,
        target.calendar_id, target.resumed_at, target.consumed_seconds, target.completed_at,
    )


def _advance(
    target: SlaTarget,
    span: Span,
    setup: SlaSetup,
    seconds: int | None,
    *,
    at: datetime,
    finished: bool,
    paused: bool,
    resolved_at: datetime | None,
) -> None:
    cal = setup.calendar
    if seconds is None:  # the governing policy has no such target (any more)
        clock.cancel_target(target, cal, at=at)
        return
    if target.state in OPEN_TARGET_STATES:  # policy, priority or calendar (even its contents) may have changed
        target.policy_id, target.calendar_id = setup.policy.id, setup.calendar_id  # type: ignore[union-attr]
        clock.retarget(target, cal, target_seconds=seconds, warning_seconds=setup.warning_seconds, at=at)
    if span.metric == Metric.resolution.value:
        if finished:
            clock.complete_target(target, cal, at=resolved_at or at)
            return
        if target.state in (TargetState.met.value, TargetState.missed.value):
            clock.resume_target(target, cal, at=at, warning_seconds=setup.warning_seconds)  # reopened
    elif span.completed_at is not None:
        clock.complete_target(target, cal, at=span.completed_at)
        return
    if target.state not in OPEN_TARGET_STATES:
        return
    if paused:
        clock.pause_target(target, cal, at=at)
    else:
        clock.resume_target(target, cal, at=at, warning_seconds=setup.warning_seconds)


def response_spans(exchanges: list[tuple[datetime, bool]]) -> list[Span]:
    """First and next response spans from the conversation's (time, is_customer) exchanges in
    order: customer messages and public human replies (notes and automated replies excluded)."""
    spans: list[Span] = []
    waiting_since: datetime | None = None
    for at, from_customer in exchanges:
        if from_customer and waiting_since is None:
            waiting_since = at
        elif not from_customer and waiting_since is not None:
            spans.append(_span(len(spans), waiting_since, at))
            waiting_since = None
    if waiting_since is not None:
        spans.append(_span(len(spans), waiting_since, None))
    return spans


def _span(index: int, started_at: datetime, completed_at: datetime | None) -> Span:
    if index == 0:
        return Span(Metric.first_response.value, 1, started_at, completed_at)
    return Span(Metric.next_response.value, index, started_at, completed_at)


async def _exchanges(session: AsyncSession, conversation_id: int) -> list[tuple[datetime, bool]]:
    rows = await session.execute(
        select(Message.created_at, Message.direction)
        .where(
            Message.conversation_id == conversation_id,
            (Message.direction == Direction.inbound.value)
            | ((Message.direction == Direction.outbound.value) & Message.author_id.is_not(None)),
        )
        .order_by(Message.id)
    )
    return [(created_at, direction == Direction.inbound.value) for created_at, direction in rows]


async def _schedule(session: AsyncSession, targets: dict[tuple[str, int], SlaTarget], before: dict) -> None:
    """The changed targets' breach and warning timers, moved or cancelled in at most two statements."""
    scheduled: list[tuple[str, int, datetime]] = []
    cancelled: list[tuple[str, int]] = []
    for key, target in targets.items():
        now = _snapshot(target)[:4]
        if before.get(key) == now:
            continue
        running = target.state == TargetState.running.value
        if running and target.due_at is not None and target.breached_at is None:
            scheduled.append((BREACH_TIMER, target.id, target.due_at))
        else:
            cancelled.append((BREACH_TIMER, target.id))
        if running and target.warn_at is not None and target.warned_at is None:
            scheduled.append((WARNING_TIMER, target.id, target.warn_at))
        else:
            cancelled.append((WARNING_TIMER, target.id))
    await schedule_timers(session, scheduled)
    await cancel_timers_of_kinds(session, cancelled)
