"""The reports projection and new conversations from the intake: a conversation that opens in the
relay's batch with only its customer's messages after it gets its fact written once, as the
handlers would leave it event by event (the same fact, channel rows and rollups), and one whose
message came by another channel is left to the handlers."""

from __future__ import annotations

import itertools

import orjson
from sqlalchemy import delete, select, text

from okno.bus.deps import SubscriberDeps
from okno.bus.events import Event
from okno.kit.signing import sign
from okno.models import OutboxEvent, ReportConversation, ReportConversationChannel, ReportSeenEvent
from okno.reports import ground_truth as gt
from okno.reports import projection
from tests.factories import admin_headers
from tests.statements import count_statements

_ids = itertools.count(1)
ROLLUPS = ("report_rollups", "report_rollup_channels", "report_rollup_durations")


async def _write(client, channel: dict, phone: str) -> None:  # noqa: ANN001
    n = next(_ids)
    body = orjson.dumps({"message_id": f"fresh-{n}", "from": {"phone": phone}, "text": "Где мой заказ?"})
    headers = {"content-type": "application/json", "x-okno-signature": sign(channel["secret"], body)}
    response = await client.post(f"/webhooks/{channel['id']}", content=body, headers=headers)
    assert response.status_code == 200, response.text


async def _unpublished(ctx) -> list[Event]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        rows = (await session.execute(
            select(OutboxEvent.id, OutboxEvent.topic, OutboxEvent.payload, OutboxEvent.created_at)
            .where(OutboxEvent.published_at.is_(None)).order_by(OutboxEvent.id)
        )).all()  # fmt: skip
    return [Event(id=r.id, topic=r.topic, payload=r.payload, created_at=r.created_at) for r in rows]


async def _tables(ctx) -> dict:  # noqa: ANN001
    """Every fact (as read and as stored) and channel row, and the rollup cells that count anything."""
    async with ctx.db.reading() as session:
        facts = {
            fact.conversation_id: {column.key: getattr(fact, column.key) for column in ReportConversation.__table__.columns}
            for fact in await session.scalars(select(ReportConversation))
        }
        uses = sorted(tuple(row) for row in (await session.execute(select(ReportConversationChannel.__table__))).all())
        stored = sorted(tuple(row) for row in (await session.execute(text("SELECT * FROM report_conversations"))).all())
        cells = {
            table: sorted(tuple(row) for row in (await session.execute(text(f"SELECT * FROM {table}"))).all() if any(row[-1:]))  # noqa: S608
            for table in ROLLUPS
        }
    return {"facts": facts, "stored": stored, "uses": uses, "cells": cells}


async def _forget(ctx) -> None:  # noqa: ANN001
    async with ctx.db.transaction() as session:
        for model in (ReportSeenEvent, ReportConversationChannel, ReportConversation):
            await session.execute(delete(model))
        for table in ROLLUPS:
            await session.execute(text(f"DELETE FROM {table}"))  # noqa: S608


async def test_new_conversations_get_the_facts_the_handlers_would_give_them(client, ctx, monkeypatch) -> None:  # noqa: ANN001
    setup = await gt.prepare(client, await admin_headers(ctx, client))
    first, other = setup.channels
    await _write(client, first, "+79265550201")  # warm: channel kinds, calendars
    await ctx.settle()
    await _forget(ctx)

    await _write(client, first, "+79265550202")  # one message
    await _write(client, first, "+79265550203")  # two messages, one channel
    await _write(client, first, "+79265550203")
    await _write(client, first, "+79265550204")  # then by another channel: the handlers'
    await _write(client, other, "+79265550204")
    events = await _unpublished(ctx)
    assert sorted({e.topic for e in events}) == ["conversation.opened", "customer.created", "message.received"]
    deps = SubscriberDeps(db=ctx.db, channels=ctx.channels, settings=ctx.settings)

    reports = [e for e in events if e.topic in projection.TOPICS]
    with count_statements(ctx.db) as log:
        await projection.project_events(deps, reports)
    written = await _tables(ctx)
    assert len(written["facts"]) == 3
    inserts = [s for s in log.statements if s.startswith("INSERT INTO report_conversations ")]
    assert len(inserts) == 2, log.listing()  # the two fresh facts at once; the ORM's for the third

    await _forget(ctx)
    monkeypatch.setattr(projection, "_fresh_candidates", lambda events, surveyed: {})
    for event in reports:  # event by event, every fact made and changed by the handlers
        await projection.project_event(deps, event)
    assert await _tables(ctx) == written
    await ctx.settle()
