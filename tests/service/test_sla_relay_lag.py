"""SLA timers and a relay that lags: a target answered or resolved in time is never declared
breached because the subscriber that completes it has not seen the reply yet (sla/alerts.py)."""

from __future__ import annotations

from datetime import timedelta

from okno.kit.time import utcnow
from okno.models import OutboxEvent
from tests.factories import admin_headers
from tests.service.helpers import open_conversation, outbox_of, timeline_of
from tests.service.test_sla import msk, near, office_team, targets_of


async def test_a_reply_in_time_not_yet_handed_on_by_the_relay_is_no_breach(client, ctx, travel) -> None:
    headers = await admin_headers(ctx, client)
    setup = await office_team(client, headers, warning=5)
    travel(msk(2026, 11, 30, 10, 0))
    conversation = await open_conversation(client, ctx, headers, channel=setup["channel"])  # first response due 11:00

    travel(msk(2026, 11, 30, 10, 45))  # before the warning (10:55): answered in time
    reply = await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Заказ в пути"}, headers=headers)
    assert reply.status_code == 201, reply.text
    travel(msk(2026, 11, 30, 11, 1))
    await ctx.timers.drain_once()  # the deadline passes while the reply's events still wait in the outbox
    await ctx.settle()

    assert await timeline_of(ctx, conversation["id"], "sla.breached") == []
    assert await timeline_of(ctx, conversation["id"], "sla.warning") == []
    assert await outbox_of(ctx, "sla.breached") == [] and await outbox_of(ctx, "sla.warning") == []
    first = (await targets_of(client, headers, conversation["id"]))["first_response:1"]
    assert first["state"] == "met" and first["breached_at"] is None


async def test_a_resolution_in_time_not_yet_handed_on_by_the_relay_is_no_breach(client, ctx, travel) -> None:
    headers = await admin_headers(ctx, client)
    setup = await office_team(client, headers)
    travel(msk(2026, 11, 30, 9, 30))
    conversation = await open_conversation(client, ctx, headers, channel=setup["channel"])  # resolution due 17:30
    await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Смотрим"}, headers=headers)
    await ctx.settle()

    travel(msk(2026, 11, 30, 17, 20))
    resolved = await client.post(f"/api/v1/conversations/{conversation['id']}/status", json={"status": "resolved"}, headers=headers)
    assert resolved.status_code == 200, resolved.text
    travel(msk(2026, 11, 30, 17, 31))
    await ctx.timers.drain_once()
    await ctx.settle()

    assert await timeline_of(ctx, conversation["id"], "sla.breached") == []
    resolution = (await targets_of(client, headers, conversation["id"]))["resolution:1"]
    assert resolution["state"] == "met" and resolution["breached_at"] is None


async def test_a_real_breach_waits_for_the_relay_then_is_declared_at_its_deadline(client, ctx, travel) -> None:
    headers = await admin_headers(ctx, client)
    setup = await office_team(client, headers)
    travel(msk(2026, 11, 30, 10, 0))
    unanswered = await open_conversation(client, ctx, headers, channel=setup["channel"])
    other = await open_conversation(client, ctx, headers, channel=setup["channel"])

    travel(msk(2026, 11, 30, 10, 50))
    await client.post(f"/api/v1/conversations/{other['id']}/messages", json={"text": "Отвечаем"}, headers=headers)
    travel(msk(2026, 11, 30, 11, 1))
    await ctx.timers.drain_once()  # an event from before the deadline still waits: not decided yet
    assert await timeline_of(ctx, unanswered["id"], "sla.breached") == []

    await ctx.settle()  # the relay catches up; the timer fires again a moment later
    travel(msk(2026, 11, 30, 11, 2))
    await ctx.settle()
    [breach] = await timeline_of(ctx, unanswered["id"], "sla.breached")
    assert near(breach.occurred_at, msk(2026, 11, 30, 11, 0))
    assert near((await targets_of(client, headers, unanswered["id"]))["first_response:1"]["breached_at"], msk(2026, 11, 30, 11, 0))
    assert await timeline_of(ctx, other["id"], "sla.breached") == []


async def test_a_relay_stuck_on_an_older_event_delays_a_breach_only_so_long(client, ctx, travel) -> None:
    headers = await admin_headers(ctx, client)
    setup = await office_team(client, headers)
    travel(msk(2026, 11, 30, 10, 0))
    conversation = await open_conversation(client, ctx, headers, channel=setup["channel"])
    travel(msk(2026, 11, 30, 10, 50))
    async with ctx.db.transaction() as session:  # a row the transport keeps failing on: retried an hour from now
        session.add(
            OutboxEvent(
                topic="team.changed", payload={"team_id": setup["team"]["id"]}, created_at=utcnow(),
                next_attempt_at=utcnow() + timedelta(hours=1), attempts=3, last_error="ConnectionError: broker away",
            )
        )

    travel(msk(2026, 11, 30, 11, 5))
    await ctx.settle()
    assert await timeline_of(ctx, conversation["id"], "sla.breached") == []
    travel(msk(2026, 11, 30, 11, 11))  # ten minutes past the deadline: decided on the state as it is
    await ctx.settle()
    [breach] = await timeline_of(ctx, conversation["id"], "sla.breached")
    assert near(breach.occurred_at, msk(2026, 11, 30, 11, 0))
