"""Who gets a conversation, decided the moment something changes (a real queue, not a sweep).

Two directions, both event-driven:
- a conversation starts waiting in a team's queue → the team's strategy picks an operator now;
- an operator frees up (resolves, goes online, gets more capacity) → the highest-priority,
  longest-waiting conversation they may take is theirs now.

Only active, online team members are candidates, below their capacity in the conversation's
medium (conversations of an active status type count). VIP customers go to experienced
operators only. Strategies: ``round_robin`` (the next member after the last one assigned),
``least_loaded`` (the most free capacity), ``skills`` (only operators with every required skill,
then the least loaded); with ``sticky`` the customer's last operator comes first. ``manual``
teams are never auto-assigned. Operator rows are locked while their load is counted, so two
relays never overfill one operator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.conversations.lifecycle import assign_conversation
from okno.models import (
    ACTIVE_TYPES,
    DEFAULT_CAPACITY,
    AssignmentStrategy,
    Conversation,
    Customer,
    Operator,
    Presence,
    StatusDefinition,
    Team,
    team_members,
)

QUEUE_LOOKAHEAD = 50  # queued conversations an operator who frees up is matched against


@dataclass
class Candidate:
    operator_id: int
    experienced: bool
    skills: frozenset[str]
    capacity: dict[str, int]
    load: dict[str, int] = field(default_factory=dict)

    def free(self, medium: str) -> int:
        return self.capacity.get(medium, DEFAULT_CAPACITY.get(medium, 0)) - self.load.get(medium, 0)

    @property
    def total_load(self) -> int:
        return sum(self.load.values())


def is_vip(attributes: dict[str, Any]) -> bool:
    """A customer the CRM marked ``vip: true`` or gave a ``vip_tier``."""
    return attributes.get("vip") is True or bool(attributes.get("vip_tier"))


def active_status_keys():  # noqa: ANN201
    return select(StatusDefinition.key).where(StatusDefinition.type.in_([t.value for t in ACTIVE_TYPES]))


_WAITING = (
    select(Conversation, StatusDefinition.type, Customer.attributes)
    .join(StatusDefinition, StatusDefinition.key == Conversation.status)
    .join(Customer, Customer.id == Conversation.customer_id)
)


@dataclass
class WaitingAhead:
    """Several conversations' rows for :func:`assign_waiting_conversation`, read (and locked) at
    once: the conversations with their status types and customers' attributes (None: gone), and
    the teams of those that wait."""

    found: dict[int, Row | None] = field(default_factory=dict)
    teams: dict[int, Team] = field(default_factory=dict)


async def read_waiting_ahead(session: AsyncSession, conversation_ids: list[int]) -> WaitingAhead:
    """One statement for the conversations (in id order: two writers lock in the same order), one
    for the teams of those that wait in a queue."""
    ahead = WaitingAhead(found=dict.fromkeys(conversation_ids))
    ids = sorted(set(conversation_ids))
    rows = await session.execute(_WAITING.where(Conversation.id.in_(ids)).order_by(Conversation.id).with_for_update(of=Conversation))
    for row in rows:
        ahead.found[row[0].id] = row
    teams = sorted({row[0].team_id for row in ahead.found.values() if row is not None and _waits(row[0], row[1])})
    if teams:
        ahead.teams = {t.id: t for t in await session.scalars(select(Team).where(Team.id.in_(teams)).order_by(Team.id).with_for_update())}
    return ahead


def _waits(conversation: Conversation, status_type: str | None) -> bool:
    return (
        conversation.assignee_id is None and conversation.team_id is not None and conversation.queued_at is not None
        and status_type in ACTIVE_TYPES
    )


async def assign_waiting_conversation(session: AsyncSession, conversation_id: int, *, ahead: WaitingAhead | None = None) -> int | None:
    """Give a queued conversation to an operator by its team's strategy; the operator's id, or
    None when it keeps waiting (manual team, nobody online with room, no experienced one for a VIP).
    ``ahead``: its rows, read with others' (:func:`read_waiting_ahead`)."""
    if ahead is not None and conversation_id in ahead.found:
        found = ahead.found[conversation_id]
    else:
        found = (await session.execute(_WAITING.where(Conversation.id == conversation_id).with_for_update(of=Conversation))).first()
    if found is None:
        return None
    conversation, status_type, attributes = found
    if not _waits(conversation, status_type):
        return None
    if ahead is not None and conversation.team_id in ahead.teams:
        team = ahead.teams[conversation.team_id]
    else:
        team = await session.get(Team, conversation.team_id, with_for_update=True)
    if team is None or team.assignment_strategy == AssignmentStrategy.manual.value:
        return None
    vip = is_vip(attributes or {})
    candidates = await _team_candidates(session, team.id)
    eligible = [c for c in candidates if fits(c, conversation, vip=vip, strategy=team.assignment_strategy)]
    if not eligible:
        return None
    chosen = await _sticky_choice(session, conversation, eligible) if team.sticky else None
    strategy = "sticky" if chosen is not None else team.assignment_strategy
    chosen = chosen or choose(team, eligible, conversation)
    team.last_assigned_operator_id = chosen.operator_id  # round robin's turn, least loaded's tie-break
    await assign_conversation(
        session,
        conversation_id=conversation.id,
        operator_id=chosen.operator_id,
        team_id=None,
        change_team=False,
        comment=None,
        actor_id=None,
        strategy=strategy,
    )
    return chosen.operator_id


async def assign_to_free_operator(session: AsyncSession, operator_id: int, *, limit: int | None = None) -> list[int]:
    """Fill a freed-up operator from their teams' queues, best first; the conversations given."""
    operator = await session.get(Operator, operator_id, with_for_update=True)
    if operator is None or not operator.is_active or operator.presence != Presence.online.value:
        return []
    teams = {
        t.id: t
        for t in await session.scalars(
            select(Team)
            .join(team_members, team_members.c.team_id == Team.id)
            .where(team_members.c.operator_id == operator_id, Team.assignment_strategy != AssignmentStrategy.manual.value)
        )
    }
    if not teams:
        return []
    me = _candidate(operator)
    me.load = (await _loads(session, [operator_id])).get(operator_id, {})
    given: list[int] = []
    skipped: set[int] = set()
    while limit is None or len(given) < limit:
        picked = await _best_waiting_for(session, me, teams, skipped)
        if picked is None:
            break
        await assign_conversation(
            session, conversation_id=picked.id, operator_id=operator_id, team_id=None, change_team=False, comment=None, actor_id=None, strategy="next_in_queue"
        )
        me.load[picked.medium] = me.load.get(picked.medium, 0) + 1
        given.append(picked.id)
    return given


def fits(candidate: Candidate, conversation: Conversation | Row, *, vip: bool, strategy: str) -> bool:
    if candidate.free(conversation.medium) <= 0:
        return False
    if vip and not candidate.experienced:
        return False
    if strategy == AssignmentStrategy.skills.value and not set(conversation.required_skills) <= candidate.skills:
        return False
    return True


def choose(team: Team, eligible: list[Candidate], conversation: Conversation) -> Candidate:
    if team.assignment_strategy == AssignmentStrategy.round_robin.value:
        return _next_in_turn(eligible, team.last_assigned_operator_id)
    # least loaded (also among the skilled): most free room in this medium, then least work
    # overall; equals take turns, so a quiet hour does not pile everything on the lowest id
    best = min((-c.free(conversation.medium), c.total_load) for c in eligible)
    tied = [c for c in eligible if (-c.free(conversation.medium), c.total_load) == best]
    return _next_in_turn(tied, team.last_assigned_operator_id)


def _next_in_turn(candidates: list[Candidate], last: int | None) -> Candidate:
    ordered = sorted(candidates, key=lambda c: c.operator_id)
    return next((c for c in ordered if c.operator_id > (last or 0)), ordered[0])


async def _best_waiting_for(session: AsyncSession, me: Candidate, teams: dict[int, Team], skipped: set[int]) -> Row | None:
    """The first queued conversation (priority, then longest waiting) this operator may take."""
    query = (
        select(Conversation.id, Conversation.team_id, Conversation.medium, Conversation.required_skills, Customer.attributes)
        .join(Customer, Customer.id == Conversation.customer_id)
        .where(
            Conversation.team_id.in_(list(teams)),
            Conversation.assignee_id.is_(None),
            Conversation.queued_at.is_not(None),
            Conversation.status.in_(active_status_keys()),
        )
        .order_by(Conversation.priority.desc(), Conversation.queued_at, Conversation.id)
        .limit(QUEUE_LOOKAHEAD)
        .with_for_update(of=Conversation, skip_locked=True)
    )
    if skipped:
        query = query.where(Conversation.id.not_in(skipped))
    for row in await session.execute(query):
        strategy = teams[row.team_id].assignment_strategy
        if fits(me, row, vip=is_vip(row.attributes or {}), strategy=strategy):
            return row
        skipped.add(row.id)
    return None


async def _team_candidates(session: AsyncSession, team_id: int) -> list[Candidate]:
    rows = await session.execute(  # plain columns: no ORM objects for a whole team on every decision
        select(Operator.id, Operator.experienced, Operator.skills, Operator.capacity)
        .join(team_members, team_members.c.operator_id == Operator.id)
        .where(team_members.c.team_id == team_id, Operator.is_active.is_(True), Operator.presence == Presence.online.value)
        .order_by(Operator.id)
        .with_for_update(of=Operator)
    )
    candidates = [Candidate(op_id, experienced, frozenset(skills or ()), dict(capacity or {})) for op_id, experienced, skills, capacity in rows]
    loads = await _loads(session, [c.operator_id for c in candidates])
    for c in candidates:
        c.load = loads.get(c.operator_id, {})
    return candidates


def _candidate(operator: Operator) -> Candidate:
    return Candidate(operator.id, operator.experienced, frozenset(operator.skills), dict(operator.capacity))


async def _loads(session: AsyncSession, operator_ids: list[int]) -> dict[int, dict[str, int]]:
    if not operator_ids:
        return {}
    rows = await session.execute(
        select(Conversation.assignee_id, Conversation.medium, func.count())
        .where(Conversation.assignee_id.in_(operator_ids), Conversation.status.in_(active_status_keys()))
        .group_by(Conversation.assignee_id, Conversation.medium)
    )
    loads: dict[int, dict[str, int]] = {}
    for operator_id, medium, count in rows:
        loads.setdefault(operator_id, {})[medium] = count
    return loads


async def _sticky_choice(session: AsyncSession, conversation: Conversation, eligible: list[Candidate]) -> Candidate | None:
    last = await session.scalar(
        select(Conversation.assignee_id)
        .where(Conversation.customer_id == conversation.customer_id, Conversation.id != conversation.id, Conversation.assignee_id.is_not(None))
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    return next((c for c in eligible if c.operator_id == last), None)
