"""The inbox counters, read once for every operator and summed per operator in Python.

After every event each open inbox re-reads its counters (``GET /ui/inbox/counts``); counted
with the operator's visibility rule in SQL, 20 operators cost 20 passes over the unfinished
conversations for one event. Here one grouped read (by team and assignee, a few rows: teams ×
operators) serves them all: an operator's counters are the sums over the groups his scope sees
(``okno.access.clauses.conversation_visible_in_python``, the twin of the SQL rule).

The grouped snapshot is shared by the process and single-flight: requests that arrive while it
is being read await that one read, and a snapshot is reused for ``SNAPSHOT_MAX_AGE`` seconds
after its read began, **until the next event**: the operators' feed calls :meth:`SharedCounts.changed`
for every event before any browser hears it, so a page that re-reads its counters because of an
event never gets a snapshot read before that event (nor joins a read that began before it). The
per-operator SQL form (``inbox.queue_counts``) still counts the full page's counters exactly.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from okno.access import Scope
from okno.access.clauses import conversation_visible_in_python
from okno.conversations.inbox import QueueCounts, operator_team_ids, unfinished_condition, vip_customer
from okno.models import Conversation, ConversationChannel, Customer, Priority

# The pages re-read their counters 300 ms after an event, at most every 2 s each: 20 operators
# hearing one event ask within the same few hundred milliseconds. Half a second lets one read
# serve that burst while a counter is never visibly older than the live list it sits beside.
SNAPSHOT_MAX_AGE = 0.5

Group = tuple[int | None, int | None]  # (team_id, assignee_id)


@dataclass(frozen=True)
class GroupedCounts:
    """The unfinished conversations grouped by (team, assignee): per group its count, urgent and
    VIP ones; the same groups split per channel used and, over ``statuses``, per status."""

    queues: dict[Group, tuple[int, int, int]]  # (conversations, urgent, vip)
    channels: dict[Group, dict[int, int]]
    statuses: dict[Group, dict[str, int]]
    status_keys: tuple[str, ...] = ()


async def read_grouped_counts(session: AsyncSession, *, unfinished: tuple[str, ...], statuses: tuple[str, ...]) -> GroupedCounts:
    """Four grouped statements: the queues, the channel each began in, the channels used later
    (``conversation_channels``), and the shown statuses (finished ones too)."""
    group = (Conversation.team_id, Conversation.assignee_id)
    is_unfinished = unfinished_condition(unfinished)
    vip = Conversation.customer_id.in_(select(Customer.id).where(vip_customer()))
    queues = {
        (team_id, assignee_id): (int(n), int(urgent or 0), int(vips or 0))
        for team_id, assignee_id, n, urgent, vips in await session.execute(
            select(
                *group, func.count(),
                func.sum(case((Conversation.priority >= Priority.high.value, 1), else_=0)),
                func.sum(case((vip, 1), else_=0)),
            ).where(is_unfinished).group_by(*group)
        )
    }
    channels: dict[Group, dict[int, int]] = defaultdict(dict)
    began = select(*group, Conversation.channel_id, func.count()).where(is_unfinished, Conversation.channel_id.is_not(None))
    used = (
        select(*group, ConversationChannel.channel_id, func.count())
        .join(Conversation, Conversation.id == ConversationChannel.conversation_id)
        .where(is_unfinished)
    )
    for query in (began, used):  # a conversation_channels row is never the channel it began in
        for team_id, assignee_id, channel_id, n in await session.execute(query.group_by(*group, query.selected_columns[2])):
            per_channel = channels[(team_id, assignee_id)]
            per_channel[int(channel_id)] = per_channel.get(int(channel_id), 0) + int(n)
    by_status: dict[Group, dict[str, int]] = defaultdict(dict)
    if statuses:
        rows = await session.execute(
            select(*group, Conversation.status, func.count()).where(Conversation.status.in_(statuses)).group_by(*group, Conversation.status)
        )
        for team_id, assignee_id, status, n in rows:
            by_status[(team_id, assignee_id)][status] = int(n)
    return GroupedCounts(queues=queues, channels=dict(channels), statuses=dict(by_status), status_keys=statuses)


def counts_for(snapshot: GroupedCounts, scope: Scope, team_ids: Collection[int]) -> QueueCounts:
    """One principal's counters: the sums over the groups his scope sees (``team_ids``: his teams)."""
    teams = set(team_ids)

    def sees(group: Group) -> bool:
        return conversation_visible_in_python(scope, teams, *group)

    mine = unassigned = team = everything = urgent = vip = 0
    for (team_id, assignee_id), (n, n_urgent, n_vip) in snapshot.queues.items():
        if not sees((team_id, assignee_id)):
            continue
        everything, urgent, vip = everything + n, urgent + n_urgent, vip + n_vip
        mine += n if assignee_id == scope.operator_id else 0
        unassigned += n if assignee_id is None else 0
        team += n if team_id is not None and team_id in teams else 0
    channels: dict[int, int] = {}
    for group, per_channel in snapshot.channels.items():
        if sees(group):
            for channel_id, n in per_channel.items():
                channels[channel_id] = channels.get(channel_id, 0) + n
    statuses = dict.fromkeys(snapshot.status_keys, 0)
    for group, per_status in snapshot.statuses.items():
        if sees(group):
            for status, n in per_status.items():
                statuses[status] += n
    return QueueCounts(mine, unassigned, team, everything, urgent, vip, channels=channels, statuses=statuses)


@dataclass
class SharedCounts:
    """The process's grouped snapshots, one per (unfinished statuses, shown statuses), each read
    by one request at a time while the others await it (single flight)."""

    max_age: float = SNAPSHOT_MAX_AGE
    clock: Callable[[], float] = time.monotonic
    reads: int = 0  # grouped reads made: what the single flight saves is visible in tests
    generation: int = 0  # events heard: a snapshot or a read begun under an older one is not shared
    _fresh: dict[tuple, tuple[float, GroupedCounts]] = field(default_factory=dict)
    _pending: dict[tuple, asyncio.Future] = field(default_factory=dict)

    def changed(self) -> None:
        """An event was committed: later requests read anew (reads in flight still answer the
        requests that joined them, which came before the event)."""
        self.generation += 1
        self._fresh.clear()

    async def snapshot(self, session: AsyncSession, *, unfinished: tuple[str, ...], statuses: tuple[str, ...]) -> GroupedCounts:
        key = (unfinished, statuses)
        while True:
            fresh = self._fresh.get(key)
            if fresh is not None and self.clock() - fresh[0] < self.max_age:
                return fresh[1]
            flight = (key, self.generation)
            pending = self._pending.get(flight)
            if pending is None:
                return await self._read(session, flight)
            snapshot = await asyncio.shield(pending)  # a waiter cancelled does not cancel the read
            if snapshot is not None:
                return snapshot
            # the read failed or its request was cancelled: try again (one of us reads)

    async def _read(self, session: AsyncSession, flight: tuple) -> GroupedCounts:
        key, generation = flight
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[flight] = future
        started = self.clock()  # the snapshot's age counts from before the read
        snapshot = None
        try:
            self.reads += 1
            snapshot = await read_grouped_counts(session, unfinished=key[0], statuses=key[1])
            self._fresh = {k: v for k, v in self._fresh.items() if started - v[0] < self.max_age}  # a changed catalog's keys go
            if generation == self.generation:  # no event since the read began: later requests may share it
                self._fresh[key] = (started, snapshot)
            return snapshot
        finally:
            del self._pending[flight]
            future.set_result(snapshot)


async def shared_queue_counts(
    session: AsyncSession, shared: SharedCounts, *, scope: Scope, unfinished: tuple[str, ...], statuses: tuple[str, ...] = ()
) -> QueueCounts:
    """The principal's counters from the shared snapshot; his teams are read now, per request
    (memberships are not cached, as everywhere in ``okno.access``)."""
    team_ids = await operator_team_ids(session, scope.operator_id)
    snapshot = await shared.snapshot(session, unfinished=unfinished, statuses=statuses)
    return counts_for(snapshot, scope, team_ids)
