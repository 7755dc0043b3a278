"""``okno reports rebuild``: conversations the projection never saw (its tables emptied, as for
conversations from before it existed) are counted after a rebuild exactly as the ground-truth
plan says; a stopped run resumes; a second run changes nothing; a range rebuilds only its own."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from okno.cli import app
from okno.kit.signing import sign
from okno.kit.time import travel_to
from okno.models import (
    Conversation,
    ReportConversation,
    ReportConversationChannel,
    ReportRebuild,
    ReportResponse,
    ReportSeenEvent,
    ReportSurvey,
)
from okno.reports import ground_truth as gt
from okno.reports import rebuild as rebuilding
from okno.reports.rebuild import rebuild
from tests.factories import admin_headers

TABLES = (ReportSurvey, ReportResponse, ReportConversationChannel, ReportConversation, ReportSeenEvent)


async def _mismatches(client, headers, planned, windows) -> list:  # noqa: ANN001
    out = []
    for a, b in windows:
        response = await client.get("/api/v1/reports/summary", params={"from": a.isoformat(), "to": b.isoformat()}, headers=headers)
        assert response.status_code == 200, response.text
        expected, got = gt.expected_summary(planned, a, b), response.json()
        if got != expected:
            out.append((a.date(), {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}))
    return out


async def _count(ctx, model) -> int:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_a_rebuild_counts_conversations_the_projection_never_saw_exactly(client, ctx, travel, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(rebuilding, "BATCH", 150)  # several batches, so the stop and the resume are real
    headers = await admin_headers(ctx, client)
    setup = await gt.prepare(client, headers)
    planned = gt.plan(60 if ctx.settings.database_url.startswith("sqlite") else 30)
    await gt.play(client, ctx.db, ctx.settle, setup, planned)
    start = min(c.opened for c in planned) - timedelta(days=1)
    end = max(c.final_resolution for c in planned) + timedelta(days=1)
    windows = [(start, end), *gt.weeks(planned)]
    assert await _mismatches(client, headers, planned, windows) == []  # the live projection's figures
    live = await _facts(ctx, end)

    async with ctx.db.transaction() as session:  # as if every conversation predated the projection
        for table in TABLES:
            await session.execute(delete(table))
    emptied = (await client.get("/api/v1/reports/summary", params={"from": start.isoformat(), "to": end.isoformat()}, headers=headers)).json()
    assert emptied["conversations"] == 0 and emptied["resolved"] == 0

    window = timedelta(days=ctx.settings.repeat_contact_days)
    stopped = await rebuild(ctx.db, window=window, max_batches=2)  # "interrupted" after two batches
    assert not stopped.finished and stopped.conversations == len(planned)

    # meanwhile a customer writes (a month after the plan, outside its periods): the live
    # projection holds the events back for the unfinished run
    travel_to(end + timedelta(days=30))
    channel = setup.channels[0]
    body = orjson.dumps({"message_id": "after-the-plan", "from": {"phone": "+79160009999"}, "text": "Ещё вопрос"})
    response = await client.post(f"/webhooks/{channel['id']}", content=body, headers={"content-type": "application/json", "x-okno-signature": sign(channel["secret"], body)})
    assert response.status_code == 200
    await ctx.settle()
    async with ctx.db.reading() as session:
        newest = await session.scalar(select(func.max(Conversation.id)))
        assert await session.get(ReportConversation, newest) is None  # held for the run

    with pytest.raises(Exception, match="unfinished"):  # another range must wait for this run
        await rebuild(ctx.db, start=start, end=end, window=window)
    resumed = await rebuild(ctx.db, window=window)
    assert resumed.finished and resumed.run_id == stopped.run_id and resumed.uncounted == 0
    assert await _mismatches(client, headers, planned, windows) == []
    assert await _facts(ctx, end) == live  # row for row what the live projection had built
    async with ctx.db.reading() as session:
        late = await session.get(ReportConversation, newest)
        assert late is not None and late.responses == 0 and late.first_channel_id == channel["id"]
    await ctx.settle()  # the live projection takes over and skips what the run applied
    assert await _count(ctx, ReportConversation) == len(planned) + 1

    again = await rebuild(ctx.db, window=window)  # a second run builds the same figures
    assert again.finished and again.run_id != stopped.run_id
    assert await _mismatches(client, headers, planned, windows) == [] and await _facts(ctx, end) == live

    week_from, week_to = gt.weeks(planned)[1]
    async with ctx.db.transaction() as session:  # one week's rows lost: rebuilt on their own
        lost = select(Conversation.id).where(Conversation.created_at >= week_from, Conversation.created_at < week_to)
        for table in TABLES[:-1]:
            await session.execute(delete(table).where(table.conversation_id.in_(lost)))
        # a conversation written without any event (as the demo seeds them): nothing to replay
        some = await session.scalar(select(Conversation).where(Conversation.created_at >= week_from).limit(1))
        session.add(Conversation(customer_id=some.customer_id, channel_id=some.channel_id, status="resolved", priority=1,
                                 created_at=some.created_at, updated_at=some.created_at))
    ranged = await rebuild(ctx.db, start=week_from, end=week_to, window=window)
    assert ranged.finished and 0 < ranged.conversations < len(planned) and ranged.uncounted == 1
    assert await _mismatches(client, headers, planned, windows) == [] and await _facts(ctx, end) == live
    assert await _count(ctx, ReportRebuild) == 3


async def _facts(ctx, before) -> dict:  # noqa: ANN001
    """Every projection row of the planned conversations (the one written after the plan aside)."""
    async with ctx.db.reading() as session:
        planned = select(Conversation.id).where(Conversation.created_at < before)
        rows = (await session.execute(select(*ReportConversation.__table__.columns).where(ReportConversation.conversation_id.in_(planned)))).all()
        responses = (await session.execute(select(ReportResponse.conversation_id, ReportResponse.cycle, ReportResponse.seconds, ReportResponse.business_seconds))).all()
        surveys = (await session.execute(select(ReportSurvey.conversation_id, ReportSurvey.kind, ReportSurvey.score, ReportSurvey.period_at))).all()
    return {"facts": sorted(map(tuple, rows)), "responses": sorted(map(tuple, responses)), "surveys": sorted(map(tuple, surveys))}


def test_the_command_refuses_a_moment_without_a_time_zone() -> None:
    result = CliRunner().invoke(app, ["reports", "rebuild", "--from", "2026-11-01T00:00:00"])
    assert result.exit_code != 0 and "time zone" in result.output
