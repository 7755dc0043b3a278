"""Snooze over the API: on hold until a moment (SLA paused), woken once by a durable timer,
ended early by the customer, by unsnooze or by any status change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from okno.bootstrap import TIMER_HANDLERS
from okno.kit.timers import TimerWorker
from okno.models import Timer
from tests.factories import admin_headers, make_api_channel, post_inbound
from tests.service.helpers import open_conversation, outbox_of, timeline_of
from tests.service.test_assignment import assignee, staffed_team
from tests.service.test_sla import office_team

MSK = ZoneInfo("Europe/Moscow")


async def snooze(client, headers, conversation_id: int, until: datetime | str, **extra):  # noqa: ANN001, ANN201
    value = until.isoformat() if isinstance(until, datetime) else until
    return await client.post(f"/api/v1/conversations/{conversation_id}/snooze", json={"until": value, **extra}, headers=headers)


async def conversation(client, headers, conversation_id: int) -> dict:  # noqa: ANN001
    return (await client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)).json()


async def first_response(client, headers, conversation_id: int) -> dict:  # noqa: ANN001
    targets = (await client.get(f"/api/v1/conversations/{conversation_id}/sla", headers=headers)).json()["items"]
    return next(t for t in targets if t["metric"] == "first_response")


async def snooze_timers(ctx) -> list[Timer]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list(await session.scalars(select(Timer).where(Timer.kind == "conversation.snooze")))


async def test_a_snoozed_conversation_pauses_sla_and_wakes_once_even_after_a_restart(client, ctx, travel) -> None:
    admin = await admin_headers(ctx, client)
    channel = (await office_team(client, admin))["channel"]
    travel(datetime(2026, 11, 30, 10, 0, tzinfo=MSK))  # Monday, office hours
    opened = await open_conversation(client, ctx, admin, channel=channel)
    until = datetime(2026, 11, 30, 14, 0, tzinfo=MSK)

    response = await snooze(client, admin, opened["id"], until, comment="Клиент просил перезвонить после обеда")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "on_hold" and datetime.fromisoformat(response.json()["snoozed_until"]) == until
    await ctx.settle()
    listed = (await client.get("/api/v1/conversations", params={"customer_id": opened["customer_id"]}, headers=admin)).json()["items"]
    assert datetime.fromisoformat(listed[0]["snoozed_until"]) == until
    [entry] = await timeline_of(ctx, opened["id"], "conversation.snoozed")
    assert entry.actor_id is not None and entry.data["comment"] == "Клиент просил перезвонить после обеда"
    assert datetime.fromisoformat(entry.data["until"]) == until
    assert [e["conversation_id"] for e in await outbox_of(ctx, "conversation.snoozed")] == [opened["id"]]
    assert (await first_response(client, admin, opened["id"]))["state"] == "paused"

    travel(datetime(2026, 11, 30, 13, 59, tzinfo=MSK))
    await ctx.settle()
    assert (await conversation(client, admin, opened["id"]))["status"] == "on_hold"

    travel(datetime(2026, 11, 30, 14, 0, 1, tzinfo=MSK))
    assert await TimerWorker(ctx.db, TIMER_HANDLERS).drain_once() == 1  # a fresh worker, as after a restart: the timer is a row
    await ctx.settle()
    woken = await conversation(client, admin, opened["id"])
    assert woken["status"] == "open" and woken["snoozed_until"] is None
    [ended] = await timeline_of(ctx, opened["id"], "conversation.snooze_ended")
    assert ended.actor_id is None and ended.data["via"] == "timer:snooze" and ended.data["early"] is False
    assert len(await outbox_of(ctx, "conversation.snooze_ended")) == 1
    assert (await first_response(client, admin, opened["id"]))["state"] == "running"

    travel(datetime(2026, 11, 30, 15, 0, tzinfo=MSK))
    await ctx.settle()
    assert len(await timeline_of(ctx, opened["id"], "conversation.snooze_ended")) == 1  # fired once
    [timer] = await snooze_timers(ctx)
    assert timer.fired_at is not None and timer.last_error is None


async def test_a_woken_conversation_goes_back_to_its_team_queue(client, ctx, travel) -> None:
    admin = await admin_headers(ctx, client)
    setup = await staffed_team(client, ctx, admin, strategy="least_loaded", operators=1, online=False)
    travel(datetime(2026, 11, 30, 10, 0, tzinfo=MSK))
    waiting = await open_conversation(client, ctx, admin, channel=setup["channel"])
    assert (await snooze(client, admin, waiting["id"], datetime(2026, 11, 30, 12, 0, tzinfo=MSK))).status_code == 200
    operator = setup["operators"][0]
    await client.post("/api/v1/operators/me/presence", json={"status": "online"}, headers=operator["headers"])
    await ctx.settle()
    assert await assignee(client, admin, waiting["id"]) is None  # snoozed: not in the queue

    travel(datetime(2026, 11, 30, 12, 0, 1, tzinfo=MSK))
    await ctx.settle()
    assert await assignee(client, admin, waiting["id"]) == operator["id"]  # offered at once when it woke


async def test_a_customer_message_reopens_a_snoozed_conversation_and_the_timer_then_does_nothing(client, ctx, travel) -> None:
    admin = await admin_headers(ctx, client)
    channel = await make_api_channel(client, admin)
    travel(datetime(2026, 11, 30, 10, 0, tzinfo=MSK))
    opened = await open_conversation(client, ctx, admin, channel=channel)
    await snooze(client, admin, opened["id"], datetime(2026, 12, 1, 10, 0, tzinfo=MSK))
    customer = (await client.get(f"/api/v1/customers/{opened['customer_id']}", headers=admin)).json()
    phone = next(i["value"] for i in customer["identities"] if i["kind"] == "phone")
    await post_inbound(client, channel, {"message_id": "back-1", "from": {"phone": phone}, "text": "Я уже дома"})
    await ctx.settle()
    now = await conversation(client, admin, opened["id"])
    assert now["status"] == "open" and now["snoozed_until"] is None

    travel(datetime(2026, 12, 1, 10, 0, 1, tzinfo=MSK))
    await ctx.settle()
    assert (await conversation(client, admin, opened["id"]))["status"] == "open"
    assert await timeline_of(ctx, opened["id"], "conversation.snooze_ended") == []


async def test_unsnooze_and_any_status_change_end_a_snooze_early(client, ctx, travel) -> None:
    admin = await admin_headers(ctx, client)
    travel(datetime(2026, 11, 30, 10, 0, tzinfo=MSK))
    first = await open_conversation(client, ctx, admin)
    second = await open_conversation(client, ctx, admin)
    for opened in (first, second):
        await snooze(client, admin, opened["id"], datetime(2026, 12, 5, 10, 0, tzinfo=MSK))
    assert len(await snooze_timers(ctx)) == 2

    woken = await client.post(f"/api/v1/conversations/{first['id']}/unsnooze", json={"comment": "Клиент позвонил сам"}, headers=admin)
    assert woken.status_code == 200, woken.text
    assert woken.json()["status"] == "open" and woken.json()["snoozed_until"] is None
    [ended] = await timeline_of(ctx, first["id"], "conversation.snooze_ended")
    assert ended.data["early"] is True and ended.data["comment"] == "Клиент позвонил сам"
    pending = await client.post(f"/api/v1/conversations/{second['id']}/status", json={"status": "pending"}, headers=admin)
    assert pending.json()["status"] == "pending" and pending.json()["snoozed_until"] is None
    assert await snooze_timers(ctx) == []
    again = await client.post(f"/api/v1/conversations/{first['id']}/unsnooze", headers=admin)
    assert again.status_code == 200 and again.json()["status"] == "open"  # not snoozed: nothing to do
    assert len(await timeline_of(ctx, first["id"], "conversation.snooze_ended")) == 1


async def test_snooze_until_must_be_ahead_within_a_year_and_carry_a_time_zone(client, ctx, travel) -> None:
    admin = await admin_headers(ctx, client)
    travel(datetime(2026, 11, 30, 10, 0, tzinfo=MSK))
    opened = await open_conversation(client, ctx, admin)
    past = await snooze(client, admin, opened["id"], datetime(2026, 11, 30, 9, 0, tzinfo=MSK))
    assert past.status_code == 422 and "future" in past.json()["detail"]
    far = await snooze(client, admin, opened["id"], datetime(2026, 11, 30, 7, 0, tzinfo=UTC) + timedelta(days=366))
    assert far.status_code == 422 and "365 days" in far.json()["detail"]
    naive = await snooze(client, admin, opened["id"], "2026-12-01T10:00:00")
    assert naive.status_code == 422 and "timezone" in naive.text
    await client.post(f"/api/v1/conversations/{opened['id']}/status", json={"status": "closed"}, headers=admin)
    closed = await snooze(client, admin, opened["id"], datetime(2026, 12, 1, 10, 0, tzinfo=MSK))
    assert closed.status_code == 422 and "reopen" in closed.json()["detail"]
    assert (await conversation(client, admin, opened["id"]))["snoozed_until"] is None
