"""The reports projection and a stream of customers' messages: a ``message.received`` that changes
nothing in its conversation's fact (the customer writes again, still waiting, by the same channel)
is recorded as applied without the fact being loaded whole, while one that starts a wait or comes
by another channel still changes the fact exactly as before."""

from __future__ import annotations

import itertools

import orjson
from sqlalchemy import func, select

from okno.bus.deps import SubscriberDeps
from okno.bus.events import Event
from okno.kit.signing import sign
from okno.kit.time import utcnow
from okno.models import Message, OutboxEvent, ReportConversation, ReportConversationChannel, ReportRebuild, ReportSeenEvent
from okno.reports import ground_truth as gt
from okno.reports import projection
from tests.factories import admin_headers
from tests.statements import count_statements

_ids = itertools.count(1)
PHONE = "+79265550101"


async def _write(client, ctx, channel: dict) -> Message:  # noqa: ANN001
    """The customer writes through an API channel; the stored message."""
    provider_id = f"quiet-{next(_ids)}"
    body = orjson.dumps({"message_id": provider_id, "from": {"phone": PHONE}, "text": "Где мой заказ?"})
    headers = {"content-type": "application/json", "x-okno-signature": sign(channel["secret"], body)}
    response = await client.post(f"/webhooks/{channel['id']}", content=body, headers=headers)
    assert response.status_code == 200, response.text
    async with ctx.db.reading() as session:
        return (
            await session.scalars(
                select(Message).where(Message.channel_id == channel["id"], Message.provider_message_id == provider_id)
            )
        ).one()


async def _fact(ctx, conversation_id: int) -> dict:  # noqa: ANN001
    async with ctx.db.reading() as session:
        fact = await session.get(ReportConversation, conversation_id)
        assert fact is not None
        return {column.key: getattr(fact, column.key) for column in ReportConversation.__table__.columns}


def _whole_fact_reads(statements: list[str]) -> list[str]:
    """Statements that load a fact row whole (the ORM entity), not by its few deciding columns."""
    return [s for s in statements if "FROM report_conversations" in s and "report_conversations.resolution_seconds" in s]


async def test_a_message_that_changes_nothing_leaves_the_fact_unloaded_and_one_that_does_changes_it(client, ctx) -> None:  # noqa: ANN001
    setup = await gt.prepare(client, await admin_headers(ctx, client))
    first, other = setup.channels
    opening = await _write(client, ctx, first)
    await ctx.settle()
    conversation_id = opening.conversation_id
    before = await _fact(ctx, conversation_id)
    assert before["waiting_since"] == opening.created_at  # the first message started the wait

    again = await _write(client, ctx, first)  # still waiting, same channel: nothing to change
    assert again.conversation_id == conversation_id
    with count_statements(ctx.db) as log:
        await ctx.settle()
    assert await _fact(ctx, conversation_id) == before
    assert not _whole_fact_reads(log.statements), log.listing()
    async with ctx.db.reading() as session:
        applied = set(await session.scalars(select(ReportSeenEvent.event_id)))
    assert len(applied) >= 3  # opened, both messages: a redelivery stays a no-op

    # another channel: the fact's kinds and channel rows change, as event by event
    by_phone = await _write(client, ctx, other)
    assert by_phone.conversation_id == conversation_id
    await ctx.settle()
    async with ctx.db.reading() as session:
        used = set(
            await session.scalars(
                select(ReportConversationChannel.channel_id).where(ReportConversationChannel.conversation_id == conversation_id)
            )
        )
    assert used == {first["id"], other["id"]}

    # an operator answers: no wait; the customer's next message starts one
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Отвечаем"}, headers=setup.headers
    )
    assert response.status_code == 201, response.text
    await ctx.settle()
    answered = await _fact(ctx, conversation_id)
    assert answered["waiting_since"] is None and answered["responses"] == 1
    follow_up = await _write(client, ctx, first)
    await ctx.settle()
    assert (await _fact(ctx, conversation_id))["waiting_since"] == follow_up.created_at


async def test_the_claim_holds_a_batch_while_a_rebuild_runs_and_skips_one_applied_already(client, ctx) -> None:  # noqa: ANN001
    """The batch's claim (``report_seen_events``) and the rebuild check are one statement: while a
    ``report_rebuilds`` row is unfinished nothing is claimed nor applied (the run applies it); once
    it is finished the batch is applied, and delivered again it changes nothing."""
    setup = await gt.prepare(client, await admin_headers(ctx, client))
    await ctx.settle()
    async with ctx.db.reading() as session:
        last = await session.scalar(select(func.coalesce(func.max(OutboxEvent.id), 0)))
    opening = await _write(client, ctx, setup.channels[0])
    async with ctx.db.reading() as session:
        rows = (await session.execute(
            select(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.payload, OutboxEvent.created_at)
            .where(OutboxEvent.id > last, OutboxEvent.topic.in_(projection.TOPICS)).order_by(OutboxEvent.id)
        )).all()  # fmt: skip
    events = [Event(id=r.id, topic=r.topic, payload=r.payload, created_at=r.created_at) for r in rows]
    assert {e.topic for e in events} == {"conversation.opened", "message.received"}
    deps = SubscriberDeps(db=ctx.db, channels=ctx.channels, settings=ctx.settings)

    async def seen() -> set[int]:
        async with ctx.db.reading() as session:
            return set(await session.scalars(select(ReportSeenEvent.event_id).where(ReportSeenEvent.event_id.in_([e.id for e in events]))))

    async with ctx.db.transaction() as session:
        run = ReportRebuild(high_water=0, cursor=0, conversations=0, events=0, started_at=utcnow())
        session.add(run)
    await projection.project_events(deps, events)
    assert await seen() == set()
    async with ctx.db.reading() as session:
        assert await session.get(ReportConversation, opening.conversation_id) is None  # held for the run

    async with ctx.db.transaction() as session:
        (await session.get(ReportRebuild, run.id)).finished_at = utcnow()
    await projection.project_events(deps, events)
    assert await seen() == {e.id for e in events}
    applied = await _fact(ctx, opening.conversation_id)
    assert applied["waiting_since"] == opening.created_at
    await projection.project_events(deps, events)  # delivered again: already claimed, nothing changes
    assert await _fact(ctx, opening.conversation_id) == applied
