"""What a relay round costs: the batch forms (SLA clocks, queue offers, freeing operators, survey
planning, the reports projection) read and write a round's conversations in a fixed number of
statements, so a round of five customers' replies or resolutions sends no more statements than a
round of two. A subscriber that went back to one read per event would fail this (and the
ground-truth play at 10,000 conversations would no longer fit CI; docs/analytics.md)."""

from __future__ import annotations

import itertools

import orjson
from sqlalchemy import select

from okno.bus.events import Event
from okno.kit.signing import sign
from okno.models import Message, OutboxEvent
from okno.reports import ground_truth as gt
from tests.factories import admin_headers
from tests.statements import StatementLog, count_statements

_phones = itertools.count(1)
# the "is anything configured?" reads (okno.kit.db_cache), made again whenever their few seconds
# ran out, whatever the round's size: not a per-event cost, and timing-dependent, so left out
CACHED = (
    "SELECT routing_rules.events FROM routing_rules",
    "SELECT DISTINCT automation_rules.event FROM automation_rules",
    "SELECT sla_policies.id FROM sla_policies LIMIT",
)


async def _write(client, ctx, channel: dict) -> int:  # noqa: ANN001
    """A new customer writes through the API channel; the conversation's id."""
    n = next(_phones)
    body = orjson.dumps({"message_id": f"round-{n}", "from": {"phone": f"+7926{n:07d}"}, "text": "Где мой заказ?"})
    headers = {"content-type": "application/json", "x-okno-signature": sign(channel["secret"], body)}
    response = await client.post(f"/webhooks/{channel['id']}", content=body, headers=headers)
    assert response.status_code == 200, response.text
    async with ctx.db.reading() as session:
        return await session.scalar(
            select(Message.conversation_id).where(Message.channel_id == channel["id"], Message.provider_message_id == f"round-{n}")
        )


async def _round(ctx) -> tuple[list[str], StatementLog]:  # noqa: ANN001
    """The events recorded since the last settle, delivered as the relay delivers a batch."""
    async with ctx.db.reading() as session:
        rows = (await session.execute(
            select(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.payload, OutboxEvent.created_at)
            .where(OutboxEvent.published_at.is_(None)).order_by(OutboxEvent.id)
        )).all()  # fmt: skip
    events = [Event(id=r.id, topic=r.topic, payload=r.payload, created_at=r.created_at) for r in rows]
    with count_statements(ctx.db) as log:
        failures = await ctx.bus.deliver_many(events)
    assert all(not failed for failed in failures.values()), failures
    await ctx.settle()  # the relay marks them published (each subscriber sees them again: idempotent)
    return sorted({e.topic for e in events}), log


def _counted(log: StatementLog) -> list[str]:
    return [s for s in log.statements if not " ".join(s.split()).startswith(CACHED)]


async def _rounds_for(client, ctx, setup: gt.Setup, customers: int) -> dict[str, StatementLog]:  # noqa: ANN001
    ids = [await _write(client, ctx, setup.channels[0]) for _ in range(customers)]
    await ctx.settle()
    logs = {}
    for what, path, body, status in (
        ("reply", "messages", {"text": "Отвечаем"}, 201),
        ("resolve", "status", {"status": "resolved", "reason": "delivery"}, 200),
    ):
        for conversation_id in ids:
            response = await client.post(f"/api/v1/conversations/{conversation_id}/{path}", json=body, headers=setup.headers)
            assert response.status_code == status, response.text
        topics, logs[what] = await _round(ctx)
        assert topics == (["message.queued"] if what == "reply" else ["conversation.status_changed"]), topics
    return logs


async def test_a_rounds_statements_do_not_grow_with_its_customers(client, ctx) -> None:  # noqa: ANN001
    setup = await gt.prepare(client, await admin_headers(ctx, client))
    await _rounds_for(client, ctx, setup, 1)  # warm: channel kinds, calendars, "is there a policy"
    two = await _rounds_for(client, ctx, setup, 2)
    five = await _rounds_for(client, ctx, setup, 5)
    for what in ("reply", "resolve"):
        assert len(_counted(five[what])) == len(_counted(two[what])), (
            f"{what}: a round of 5 customers sent {len(_counted(five[what]))} statements, one of 2 sent {len(_counted(two[what]))}:\n"
            f"{five[what].listing()}\n--- 2 ---\n{two[what].listing()}"
        )


# statements a conversation for the ground-truth play of 40 conversations (webhooks, REST calls,
# every subscriber, timers), measured 2026-12-07: SQLite 87.0, PostgreSQL 89.1 (before the batch
# forms read a round's rows at once: 125.6 on SQLite); a few percent of room for cache expiries
PLAY_CEILING = {"sqlite": 91, "postgresql": 94}


async def test_the_ground_truth_play_stays_under_its_statements_a_conversation(client, ctx, travel) -> None:  # noqa: ANN001
    setup = await gt.prepare(client, await admin_headers(ctx, client))
    planned = gt.plan(40)
    with count_statements(ctx.db) as log:
        await gt.play(client, ctx.db, ctx.settle, setup, planned)
    per_conversation = log.count / len(planned)
    backend = "sqlite" if ctx.db.is_sqlite else "postgresql"
    assert per_conversation <= PLAY_CEILING[backend], f"{per_conversation:.1f} statements a conversation on {backend}"
