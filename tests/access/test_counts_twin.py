"""The inbox counters summed in Python from one grouped read (okno.conversations.shared_counts)
against the per-operator SQL counters (``inbox.queue_counts``, the reference), and the Python
twin of the visibility rule against the SQL rule, over random conversations and every role,
team membership and ``operators_see_unteamed``; then the snapshot's single flight and reuse."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from okno.access import Scope
from okno.access.clauses import conversation_visible, conversation_visible_in_python
from okno.bus.events import Event
from okno.conversations import shared_counts
from okno.conversations.inbox import operator_team_ids, queue_counts
from okno.conversations.shared_counts import SharedCounts, counts_for, read_grouped_counts
from okno.kit.time import utcnow
from okno.models import UNFINISHED_STATUSES, Channel, Conversation, ConversationChannel, Customer, Operator, Team, team_members
from tests.factories import admin_headers, make_operator

UNFINISHED = tuple(s.value for s in UNFINISHED_STATUSES)
SHOWN = ("open", "pending", "on_hold", "resolved")
VIP_ATTRIBUTES = [{}, {}, {"vip": True}, {"vip": False}, {"vip_tier": "gold"}, {"vip_tier": ""}]


async def _random_world(ctx, rng: random.Random) -> list[Operator]:  # noqa: ANN001
    """Teams, operators of every role in 0-2 teams each, customers (some VIP), channels, and
    conversations of random team (or none), assignee (or none), priority, status and channels."""
    now = utcnow()
    async with ctx.db.transaction() as session:
        teams = [Team(name=f"team {n}") for n in range(rng.randint(1, 4))]
        channels = [Channel(kind="api", name=f"channel {n}", config_sealed="", is_active=True) for n in range(rng.randint(1, 4))]
        roles = ["admin"] + ["supervisor"] * rng.randint(1, 2) + ["operator"] * rng.randint(2, 5)
        operators = [Operator(email=f"twin{n}@okno.local", name=f"twin {n}", password_hash="x", role=role) for n, role in enumerate(roles)]
        customers = [Customer(name=f"customer {n}", attributes=rng.choice(VIP_ATTRIBUTES)) for n in range(rng.randint(3, 10))]
        session.add_all([*teams, *channels, *operators, *customers])
        await session.flush()
        members = {(team.id, op.id) for op in operators for team in rng.sample(teams, rng.randint(0, min(2, len(teams))))}
        if members:
            await session.execute(insert(team_members), [{"team_id": t, "operator_id": o} for t, o in members])
        for n in range(rng.randint(20, 80)):
            began = rng.choice([*channels, None])
            conversation = Conversation(
                customer_id=rng.choice(customers).id,
                channel_id=began.id if began else None,
                status=rng.choice(["open", "open", "pending", "on_hold", "resolved", "closed"]),
                priority=rng.randint(0, 3),
                team_id=rng.choice(teams).id if rng.random() < 0.7 else None,
                assignee_id=rng.choice(operators).id if rng.random() < 0.6 else None,
                created_at=now - timedelta(minutes=n), last_message_at=now - timedelta(minutes=n),
            )
            session.add(conversation)
            await session.flush()
            later = [c for c in channels if began is None or c.id != began.id]
            for channel in rng.sample(later, rng.randint(0, len(later))) if rng.random() < 0.3 else []:
                session.add(ConversationChannel(conversation_id=conversation.id, channel_id=channel.id, first_used_at=now))
    return operators


@pytest.mark.parametrize("seed", range(8))
async def test_grouped_counters_equal_the_per_operator_sql_counters(ctx, seed: int) -> None:  # noqa: ANN001
    rng = random.Random(seed)
    operators = await _random_world(ctx, rng)
    async with ctx.db.reading() as session:
        snapshot = await read_grouped_counts(session, unfinished=UNFINISHED, statuses=SHOWN)
        checked = 0
        for operator in operators:
            team_ids = await operator_team_ids(session, operator.id)
            for see_unteamed in (True, False):
                scope = Scope(operator_id=operator.id, role=operator.role, operators_see_unteamed=see_unteamed)
                reference = await queue_counts(session, operator_id=operator.id, unfinished=UNFINISHED, statuses=SHOWN, scope=scope)
                assert counts_for(snapshot, scope, team_ids) == reference, (seed, operator.role, see_unteamed, team_ids)
                checked += reference.all
    assert checked > 0  # the world had conversations someone sees


@pytest.mark.parametrize("seed", range(4))
async def test_the_python_visibility_twin_agrees_with_the_sql_rule(ctx, seed: int) -> None:  # noqa: ANN001
    operators = await _random_world(ctx, random.Random(100 + seed))
    async with ctx.db.reading() as session:
        rows = (await session.execute(select(Conversation.id, Conversation.team_id, Conversation.assignee_id))).all()
        for operator in operators:
            team_ids = set(await operator_team_ids(session, operator.id))
            for see_unteamed in (True, False):
                scope = Scope(operator_id=operator.id, role=operator.role, operators_see_unteamed=see_unteamed)
                in_sql = set(await session.scalars(select(Conversation.id).where(conversation_visible(scope))))
                in_python = {cid for cid, team_id, assignee_id in rows if conversation_visible_in_python(scope, team_ids, team_id, assignee_id)}
                assert in_python == in_sql, (operator.role, see_unteamed, team_ids)


async def test_twenty_concurrent_counter_requests_make_one_grouped_read(ctx, client, monkeypatch) -> None:  # noqa: ANN001
    """The first request's read is held until another request has arrived at the snapshot (one
    the connection pool let in): it awaits that one read instead of reading too. The clock stands
    still, so the requests the pool queues behind them reuse the snapshot however slow the
    machine is. (The read is released by that arrival, not after a quiet spell of wall time: under
    load the requests came more than 0.1 s apart and the test failed.)"""
    await _random_world(ctx, random.Random(7))
    headers = await admin_headers(ctx, client)
    shared = ctx.inbox_counts
    shared.clock = lambda: 0.0
    asked, asked_during_read = 0, 0
    another_arrived = asyncio.Event()
    real_snapshot, real_read = shared.snapshot, shared_counts.read_grouped_counts

    async def counted_snapshot(session, **kw):  # noqa: ANN001, ANN202
        nonlocal asked
        asked += 1
        if asked >= 2:
            another_arrived.set()
        return await real_snapshot(session, **kw)

    async def held_read(session, **kw):  # noqa: ANN001, ANN202
        nonlocal asked_during_read
        await asyncio.wait_for(another_arrived.wait(), 60)  # a guard against hanging, not a bar
        asked_during_read = asked
        return await real_read(session, **kw)

    monkeypatch.setattr(shared, "snapshot", counted_snapshot)
    monkeypatch.setattr(shared_counts, "read_grouped_counts", held_read)
    responses = await asyncio.gather(*(client.get("/ui/inbox/counts", headers=headers) for _ in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    assert asked == 20 and asked_during_read >= 2  # several requests awaited the read under way
    assert shared.reads == 1
    assert len({tuple(sorted(r.json().items())) for r in responses}) == 1
    assert responses[0].json()["all"] > 0


def _slow_reads(monkeypatch) -> None:  # noqa: ANN001
    """Each grouped read takes 0.2 s more: long enough for requests to arrive during it."""
    real_read = shared_counts.read_grouped_counts

    async def slow_read(session, **kw):  # noqa: ANN001, ANN202
        await asyncio.sleep(0.2)
        return await real_read(session, **kw)

    monkeypatch.setattr(shared_counts, "read_grouped_counts", slow_read)


def _asker(ctx, shared: SharedCounts):  # noqa: ANN001, ANN202
    async def ask():  # noqa: ANN202
        async with ctx.db.reading() as session:
            return await shared.snapshot(session, unfinished=UNFINISHED, statuses=SHOWN)

    return ask


async def test_requests_during_a_read_share_it_even_without_reuse(ctx, monkeypatch) -> None:  # noqa: ANN001
    shared = SharedCounts(max_age=0.0)  # no reuse: only the single flight can share
    _slow_reads(monkeypatch)
    ask = _asker(ctx, shared)
    first = asyncio.ensure_future(ask())
    await asyncio.sleep(0.05)  # its read is under way
    snapshots = await asyncio.gather(first, ask(), ask())
    assert shared.reads == 1 and snapshots[0] is snapshots[1] is snapshots[2]
    await ask()
    assert shared.reads == 2  # nothing under way, nothing reused: a new read


async def _operator_with_one_open(ctx) -> tuple[Scope, Conversation]:  # noqa: ANN001
    """An operator and one open conversation assigned to him."""
    me = await make_operator(ctx, role="operator")
    async with ctx.db.transaction() as session:
        customer = Customer(name="c", attributes={})
        session.add(customer)
        await session.flush()
        conversation = Conversation(customer_id=customer.id, status="open", assignee_id=me["id"])
        session.add(conversation)
    return Scope(operator_id=me["id"], role="operator"), conversation


async def test_a_snapshot_is_reused_only_while_young(ctx) -> None:  # noqa: ANN001
    now = [1000.0]
    shared = SharedCounts(max_age=0.5, clock=lambda: now[0])
    scope, first = await _operator_with_one_open(ctx)
    async with ctx.db.reading() as session:
        assert (await shared_counts.shared_queue_counts(session, shared, scope=scope, unfinished=UNFINISHED)).mine == 1
    async with ctx.db.transaction() as session:
        session.add(Conversation(customer_id=first.customer_id, status="open", assignee_id=scope.operator_id))
    now[0] += 0.4
    async with ctx.db.reading() as session:
        assert (await shared_counts.shared_queue_counts(session, shared, scope=scope, unfinished=UNFINISHED)).mine == 1  # reused
    now[0] += 0.2
    async with ctx.db.reading() as session:
        assert (await shared_counts.shared_queue_counts(session, shared, scope=scope, unfinished=UNFINISHED)).mine == 2  # read again
    assert shared.reads == 2


async def test_a_failed_read_lets_the_waiting_requests_read_again(ctx, monkeypatch) -> None:  # noqa: ANN001
    shared = SharedCounts(max_age=0.0)
    real_read, calls = shared_counts.read_grouped_counts, []

    async def failing_first(session, **kw):  # noqa: ANN001, ANN202
        calls.append(1)
        await asyncio.sleep(0.05)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return await real_read(session, **kw)

    monkeypatch.setattr(shared_counts, "read_grouped_counts", failing_first)

    async def ask():  # noqa: ANN202
        async with ctx.db.reading() as session:
            return await shared.snapshot(session, unfinished=UNFINISHED, statuses=())

    first = asyncio.ensure_future(ask())
    await asyncio.sleep(0.01)  # the first read is under way
    waiter = asyncio.ensure_future(ask())
    with pytest.raises(RuntimeError):
        await first
    assert (await waiter).queues == {}
    assert len(calls) == 2


async def test_an_event_ends_the_reuse_of_a_snapshot_read_before_it(ctx) -> None:  # noqa: ANN001
    """The process's own snapshot (``ctx.inbox_counts``), told of events by the operators' feed: a
    page re-reading its counters because of an event sees that event, however young the snapshot."""
    ctx.inbox_counts.max_age = 60.0  # reuse would last a minute without events
    scope, conversation = await _operator_with_one_open(ctx)

    async def mine() -> int:
        async with ctx.db.reading() as session:
            return (await shared_counts.shared_queue_counts(session, ctx.inbox_counts, scope=scope, unfinished=UNFINISHED)).mine

    assert await mine() == 1
    async with ctx.db.transaction() as session:  # transferred away, as the browser test does
        (await session.get(Conversation, conversation.id)).assignee_id = None
    assert await mine() == 1  # no event yet: the young snapshot is reused
    await ctx.operator_feed.on_event(Event(id=1, topic="conversation.assigned", payload={"conversation_id": conversation.id}, created_at=utcnow()))
    assert await mine() == 0
    assert ctx.inbox_counts.reads == 2


async def test_a_request_after_an_event_does_not_join_a_read_begun_before_it(ctx, monkeypatch) -> None:  # noqa: ANN001
    shared = SharedCounts(max_age=60.0)
    _slow_reads(monkeypatch)
    ask = _asker(ctx, shared)
    before = asyncio.ensure_future(ask())
    await asyncio.sleep(0.05)  # its read is under way
    joined = asyncio.ensure_future(ask())  # asked before the event: shares that read
    await asyncio.sleep(0.01)
    shared.changed()
    after = asyncio.ensure_future(ask())
    first, second, third = await asyncio.gather(before, joined, after)
    assert first is second and third is not first
    assert shared.reads == 2
    assert await ask() is third  # the read begun after the event is the one kept for reuse
    assert shared.reads == 2
