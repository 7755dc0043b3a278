"""Retention: old message bodies and raw items are anonymised by the daily job, new ones are not;
planning is once a day and idempotent; a channel's own period wins over the global one."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from okno.app import create_app
from okno.customers.retention import SWEEP, RetentionPlanner, planned_time, sweep
from okno.kit.time import utcnow
from okno.models import InboundItem, Job, Message, StoredFile, TimelineEvent
from tests.channels.test_widget import widget  # noqa: F401  (a widget channel served on loopback)
from tests.factories import admin_headers, make_api_channel, post_inbound
from tests.files.helpers import send_files, tiny_png

EMPTY = {"messages": 0, "raw_items": 0, "files": 0, "timeline": 0, "visitor_events": 0, "webhook_calls": 0}
OLD_TEXT = "старое сообщение про паспорт 4510"
NEW_TEXT = "свежее сообщение"


async def _old_and_new(client, ctx, *, age_days: int = 40) -> tuple[dict, dict]:  # noqa: ANN001
    """Two customers: one whose message (and its raw item) is ``age_days`` old, one who wrote now."""
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    for message_id, phone, text in (("old-1", "+79160000101", OLD_TEXT), ("new-1", "+79160000102", NEW_TEXT)):
        response = await post_inbound(client, channel, {"message_id": message_id, "from": {"phone": phone}, "text": text})
        assert response.status_code == 200, response.text
    await ctx.settle()
    old = utcnow() - timedelta(days=age_days)
    async with ctx.db.transaction() as session:
        await session.execute(update(Message).where(Message.text == OLD_TEXT).values(created_at=old))
        await session.execute(update(InboundItem).where(InboundItem.provider_id == "old-1").values(received_at=old))
    return headers, channel


async def _bodies(ctx) -> dict[str, tuple[str, bool]]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        items = {p: (raw, item) for p, raw, item in await session.execute(select(InboundItem.provider_id, InboundItem.raw, InboundItem.item))}
        messages = {m.provider_message_id: m for m in await session.scalars(select(Message))}
        previews = [d.get("text") for d in await session.scalars(select(TimelineEvent.data).where(TimelineEvent.kind == "message.received"))]
    return {"items": items, "messages": messages, "previews": previews}


async def test_the_daily_job_anonymises_old_bodies_and_raw_items_and_not_new_ones(client, ctx) -> None:
    await _old_and_new(client, ctx)
    planner = RetentionPlanner(ctx.db, message_days=30, raw_days=30, hour_utc=0, files_dir=ctx.files.blobs.root)

    first = await planner.plan(utcnow())
    again = await planner.plan(utcnow())  # idempotent: today's run is planned once
    assert first is not None and again is None
    await ctx.settle()  # the job worker runs it

    async with ctx.db.reading() as session:
        job = await session.get(Job, first.id)
    assert job.kind == SWEEP and job.status == "done", job.error
    assert job.result["messages"] == 1 and job.result["raw_items"] == 1
    found = await _bodies(ctx)
    old, new = found["messages"]["old-1"], found["messages"]["new-1"]
    assert old.text == "" and old.redacted_at is not None and old.direction == "in" and old.status == "received"
    assert new.text == NEW_TEXT and new.redacted_at is None
    assert found["items"]["old-1"] == ("", {"redacted": True})
    assert NEW_TEXT in found["items"]["new-1"][0] and found["items"]["new-1"][1]["text"] == NEW_TEXT
    assert OLD_TEXT not in repr(found["previews"]) and NEW_TEXT in found["previews"]

    # a second sweep changes nothing
    assert await sweep(ctx.db, ctx.files.blobs, message_days=30, raw_days=30) == EMPTY


async def test_finished_webhook_call_bodies_go_with_age_and_pending_ones_stay(client, ctx) -> None:
    from okno.models import Customer, WebhookCall

    await _old_and_new(client, ctx)
    async with ctx.db.transaction() as session:
        customer_id = await session.scalar(select(Customer.id).limit(1))
        for key, status, age in (("a", "done", 40), ("b", "pending", 40), ("c", "done", 1)):
            session.add(WebhookCall(customer_id=customer_id, url="https://crm.example/hook", body=f'{{"text": "{OLD_TEXT}"}}',
                                    idempotency_key=key, status=status, created_at=utcnow() - timedelta(days=age)))  # fmt: skip

    assert (await sweep(ctx.db, ctx.files.blobs, message_days=30, raw_days=0))["webhook_calls"] == 1

    async with ctx.db.reading() as session:
        bodies = dict((await session.execute(select(WebhookCall.idempotency_key, WebhookCall.body))).all())
    assert bodies["a"] == "" and OLD_TEXT in bodies["b"] and OLD_TEXT in bodies["c"]


async def test_nothing_is_removed_while_retention_is_off(client, ctx) -> None:
    await _old_and_new(client, ctx, age_days=4000)
    assert await sweep(ctx.db, ctx.files.blobs, message_days=0, raw_days=0) == EMPTY
    assert (await _bodies(ctx))["messages"]["old-1"].text == OLD_TEXT


async def test_a_channels_own_period_wins_and_takes_the_files_of_old_replies(client, ctx) -> None:
    headers, channel = await _old_and_new(client, ctx, age_days=3)
    conversation = (await client.get("/api/v1/conversations", headers=headers)).json()["items"]
    old_conversation = next(c for c in conversation if c["last_inbound_at"] and c["id"] == min(c["id"] for c in conversation))
    sent = await send_files(client, headers, old_conversation["id"], [("паспорт.png", tiny_png(4, 4), "image/png")])
    assert sent.status_code in (200, 201), sent.text
    await ctx.settle()
    async with ctx.db.transaction() as session:
        await session.execute(update(Message).where(Message.direction == "out").values(created_at=utcnow() - timedelta(days=3)))
        [stored] = (await session.scalars(select(StoredFile))).all()
    blob = ctx.files.blobs.root / stored.storage_key
    assert blob.exists()

    assert (await sweep(ctx.db, ctx.files.blobs, message_days=30, raw_days=30))["messages"] == 0  # 3 days < 30
    changed = await client.put(f"/api/v1/channels/{channel['id']}/retention", json={"days": 2}, headers=headers)
    assert changed.status_code == 200 and changed.json()["retention_days"] == 2
    assert (await client.put(f"/api/v1/channels/{channel['id']}/retention", json={"days": 0}, headers=headers)).status_code == 422
    shown = (await client.get("/api/v1/retention", headers=headers)).json()
    assert shown["channels"] == [{"channel_id": channel["id"], "name": channel["name"], "retention_days": 2}]

    totals = await sweep(ctx.db, ctx.files.blobs, message_days=30, raw_days=30)

    assert totals["messages"] == 2 and totals["raw_items"] == 1 and totals["files"] == 1
    assert not blob.exists()
    assert (await _bodies(ctx))["messages"]["new-1"].text == NEW_TEXT


def test_the_planned_time_is_today_at_the_configured_hour() -> None:
    now = utcnow().replace(hour=15, minute=7)
    assert planned_time(now, 3) == now.replace(hour=3, minute=0, second=0, microsecond=0)
    assert planned_time(now + timedelta(days=1), 3) - planned_time(now, 3) == timedelta(days=1)


async def test_the_workers_of_serve_and_worker_plan_the_daily_job(settings) -> None:
    """``okno serve`` (embedded workers) and ``okno worker`` both start ``AppContext.start_workers``."""
    from tests.conftest import _empty_all_tables

    await _empty_all_tables(settings.database_url)
    app = create_app(settings, start_workers=True)
    async with app.router.lifespan_context(app):
        ctx = app.state.ctx
        assert "retention" in ctx.workers
        for _ in range(200):
            async with ctx.db.reading() as session:
                jobs = (await session.scalars(select(Job).where(Job.kind == SWEEP))).all()
            if jobs:
                break
            await asyncio.sleep(0.05)
    assert len(jobs) == 1 and jobs[0].run_after == planned_time(utcnow(), settings.retention_hour_utc)


async def test_okno_worker_plans_the_daily_job_too(settings) -> None:
    from okno.kit.db import create_database
    from okno.worker_process import run_worker
    from tests.conftest import _empty_all_tables

    await _empty_all_tables(settings.database_url)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(settings, stop=stop))
    db = create_database(settings.resolved_database_url())
    try:
        for _ in range(200):
            async with db.reading() as session:
                jobs = (await session.scalars(select(Job).where(Job.kind == SWEEP))).all()
            if jobs:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await worker
        await db.dispose()
    assert len(jobs) == 1 and jobs[0].payload["files_dir"] == str(settings.resolved_files_dir())


async def test_old_widget_stream_words_go_and_the_numbering_stays(widget, ctx) -> None:  # noqa: F811
    from okno.channels.adapters.widget.streams import append_event
    from okno.models import VisitorEvent

    channel_id = widget["channel"]["id"]
    async with ctx.db.transaction() as session:
        for text in ("давнее: мой адрес Ленина 5", "сегодняшнее"):
            await append_event(session, channel_id=channel_id, visitor_id="v_abc", kind="visitor", payload={"text": text, "kind": "visitor"})
    async with ctx.db.transaction() as session:
        await session.execute(update(VisitorEvent).where(VisitorEvent.seq == 1).values(created_at=utcnow() - timedelta(days=40)))

    totals = await sweep(ctx.db, ctx.files.blobs, message_days=30, raw_days=0)

    assert totals["visitor_events"] == 1
    async with ctx.db.reading() as session:
        events = {e.seq: e.payload for e in await session.scalars(select(VisitorEvent))}
    assert events == {1: {"text": "", "kind": "visitor"}, 2: {"text": "сегодняшнее", "kind": "visitor"}}
    assert (await sweep(ctx.db, ctx.files.blobs, message_days=30, raw_days=0))["visitor_events"] == 0
