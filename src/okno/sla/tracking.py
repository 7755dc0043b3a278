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

from okno.kit.ids import allocate_ids
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
from okno.sla.policies import SlaLookups, SlaSetup, read_setups_ahead, setup_for

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
        loaded = await _load_one(session, conversation_id, write=write, lookups=lookups)
        if loaded is None:
            return False
        changed, moved = await _move(session, loaded, at=at, write=write, lookups=lookups)
        if write and changed:
            await session.flush()  # new targets get their ids for the timers
            await _schedule(session, moved)
        return changed


async def sync_conversations_sla(session: AsyncSession, moments: list[tuple[int, datetime]], *, lookups: SlaLookups) -> int:
    """Several conversations' syncs (each ``(conversation_id, at)``, at most once each) in one
    transaction, as :func:`sync_conversation_sla` makes them one by one: the conversations (locked,
    in id order), their targets and their messages are read in one statement each, and the
    changes are flushed and their timers moved together at the end. How many changed."""
    ids = [conversation_id for conversation_id, _ in moments]
    if len(set(ids)) != len(ids):  # a conversation twice: its second sync must see the first's writes
        return sum([await sync_conversation_sla(session, cid, at=at, lookups=lookups) for cid, at in moments])
    changed, moved = 0, []
    with session.no_autoflush:
        loaded = await _load_many(session, ids, lookups)
        for conversation_id, at in moments:
            if conversation_id not in loaded:
                continue  # erased since
            did, targets = await _move(session, loaded[conversation_id], at=at, write=True, lookups=lookups)
            if did:
                changed += 1
                moved += targets
        if changed:
            await _number_new_targets(session, [target for target, before in moved if before is None])
            await session.flush()
            await _schedule(session, moved)
    return changed


async def _number_new_targets(session: AsyncSession, new: list[SlaTarget]) -> None:
    """SQLite: ids for several new targets taken first, so they go in as one ``executemany``
    (SQLite hands ids back in parameter order only one row at a time; PostgreSQL's ``RETURNING``
    does it for a batch)."""
    if len(new) > 1 and session.bind.dialect.name == "sqlite":
        for target, target_id in zip(new, await allocate_ids(session, SlaTarget.__table__, len(new)), strict=True):
            target.id = target_id


@dataclass
class _Loaded:
    """What one sync reads: the conversation, its status's type, its targets and its exchanges."""

    conversation: Conversation
    status_type: str | None
    targets: dict[tuple[str, int], SlaTarget]
    exchanges: list[tuple[datetime, bool]]


async def _load_one(session: AsyncSession, conversation_id: int, *, write: bool, lookups: SlaLookups | None) -> _Loaded | None:
    conversation = await session.get(Conversation, conversation_id, with_for_update=write)
    if conversation is None:
        return None
    targets = {
        (t.metric, t.cycle): t
        for t in await session.scalars(select(SlaTarget).where(SlaTarget.conversation_id == conversation_id))
    }
    status_type = await _status_type(session, conversation.status, lookups)
    return _Loaded(conversation, status_type, targets, await _exchanges(session, conversation_id))


async def _load_many(session: AsyncSession, ids: list[int], lookups: SlaLookups) -> dict[int, _Loaded]:
    """:class:`_Loaded` for many conversations, one statement each for the conversations with
    their status types, their targets and their exchanges."""
    rows = await session.execute(
        select(Conversation, StatusDefinition.type)
        .outerjoin(StatusDefinition, StatusDefinition.key == Conversation.status)
        .where(Conversation.id.in_(ids))
        .order_by(Conversation.id)  # two writers lock shared rows in the same order
        .with_for_update(of=Conversation)
    )
    loaded: dict[int, _Loaded] = {}
    for conversation, status_type in rows:
        lookups.status_types[conversation.status] = status_type
        loaded[conversation.id] = _Loaded(conversation, status_type, {}, [])
    if not loaded:
        return loaded
    await read_setups_ahead(session, [item.conversation for item in loaded.values()], lookups)
    found = list(loaded)
    for target in await session.scalars(select(SlaTarget).where(SlaTarget.conversation_id.in_(found))):
        loaded[target.conversation_id].targets[(target.metric, target.cycle)] = target
    for conversation_id, created_at, direction in await session.execute(_exchanges_of(found)):
        loaded[conversation_id].exchanges.append((created_at, direction == Direction.inbound.value))
    return loaded


async def _move(
    session: AsyncSession, loaded: _Loaded, *, at: datetime, write: bool, lookups: SlaLookups | None
) -> tuple[bool, list[tuple[SlaTarget, tuple]]]:
    """Moves the loaded targets to where the conversation's story puts them (new ones added to the
    session when ``write``); whether anything changed, and the targets with their state before."""
    conversation, targets = loaded.conversation, loaded.targets
    setup = await setup_for(session, conversation, lookups)
    before = {key: _snapshot(t) for key, t in targets.items()}
    spans = response_spans(loaded.exchanges)
    spans.append(Span(Metric.resolution.value, 1, conversation.created_at, None))
    finished, paused = loaded.status_type in FINISHED_TYPES, loaded.status_type == StatusType.on_hold.value

    for span in spans:
        seconds = setup.target_seconds(span.metric, conversation.priority)
        target = targets.get((span.metric, span.cycle))
        if target is None:
            if seconds is None:
                continue  # the governing policy sets no such target
            target = SlaTarget(conversation_id=conversation.id, metric=span.metric, cycle=span.cycle, policy_id=setup.policy.id)  # type: ignore[union-attr]
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
    if write and changed:
        conversation.sla_due_at = due
    return changed, [(t, before[key][:4] if key in before else None) for key, t in targets.items()]


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


_HUMAN_OR_CUSTOMER = (Message.direction == Direction.inbound.value) | (
    (Message.direction == Direction.outbound.value) & Message.author_id.is_not(None)
)


async def _exchanges(session: AsyncSession, conversation_id: int) -> list[tuple[datetime, bool]]:
    rows = await session.execute(_exchanges_of([conversation_id]))
    return [(created_at, direction == Direction.inbound.value) for _, created_at, direction in rows]


def _exchanges_of(conversation_ids: list[int]):  # noqa: ANN202
    """Many conversations' exchanges, each conversation's in order."""
    return (
        select(Message.conversation_id, Message.created_at, Message.direction)
        .where(Message.conversation_id.in_(conversation_ids), _HUMAN_OR_CUSTOMER)
        .order_by(Message.id)
    )


async def _schedule(session: AsyncSession, moved: list[tuple[SlaTarget, tuple | None]]) -> None:
    """The changed targets' breach and warning timers, moved or cancelled in at most two statements
    (``moved``: each target with its state before the sync, None for a new one)."""
    scheduled: list[tuple[str, int, datetime]] = []
    cancelled: list[tuple[str, int]] = []
    for target, before in moved:
        if before == _snapshot(target)[:4]:
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
