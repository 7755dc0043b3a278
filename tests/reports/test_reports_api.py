"""Reports over the API, fed by the projection: the issue's cases, period rules, access, exports."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from okno.bus.outbox import record_event
from okno.surveys.events import SurveyAnswered, SurveySent
from tests.factories import admin_headers, login, make_api_channel, make_operator, post_inbound

MSK = ZoneInfo("Europe/Moscow")
OFFICE = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK)


async def office_team(client, headers) -> dict:  # noqa: ANN001
    calendar = (await client.post("/api/v1/calendars", json={"name": f"Офис {secrets.token_hex(2)}", "timezone": "Europe/Moscow", "weekly": OFFICE}, headers=headers)).json()
    team = (await client.post("/api/v1/teams", json={"name": f"Поддержка {secrets.token_hex(2)}"}, headers=headers)).json()
    response = await client.patch(f"/api/v1/teams/{team['id']}", json={"calendar_id": calendar["id"]}, headers=headers)
    assert response.status_code == 200, response.text
    return team


async def write(client, ctx, channel: dict, phone: str, text: str = "Где мой заказ?") -> int:  # noqa: ANN001
    response = await post_inbound(client, channel, {"message_id": secrets.token_hex(6), "from": {"phone": phone}, "text": text})
    assert response.status_code == 200, response.text
    await ctx.settle()
    async with ctx.db.reading() as session:
        from sqlalchemy import select

        from okno.models import Message

        return await session.scalar(select(Message.conversation_id).order_by(Message.id.desc()).limit(1))


async def reply(client, ctx, headers, conversation_id: int, text: str = "Уже в пути") -> None:  # noqa: ANN001
    response = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": text}, headers=headers)
    assert response.status_code == 201, response.text
    await ctx.settle()


async def resolve(client, ctx, headers, conversation_id: int, reason: str = "delivery") -> None:  # noqa: ANN001
    response = await client.post(f"/api/v1/conversations/{conversation_id}/status", json={"status": "resolved", "reason": reason}, headers=headers)
    assert response.status_code == 200, response.text
    await ctx.settle()


async def summary(client, headers, start: datetime, end: datetime, **params) -> dict:  # noqa: ANN001, ANN003
    response = await client.get("/api/v1/reports/summary", params={"from": start.isoformat(), "to": end.isoformat(), **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_friday_1750_answered_monday_0910_is_twenty_business_minutes(client, ctx, stop_clock) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    team = await office_team(client, headers)
    channel = await make_api_channel(client, headers, team_id=team["id"])
    stop_clock(msk(2026, 11, 27, 17, 50))  # Friday
    conversation = await write(client, ctx, channel, "+79161110001")
    stop_clock(msk(2026, 11, 30, 9, 10))  # Monday
    await reply(client, ctx, headers, conversation)

    figures = await summary(client, headers, msk(2026, 11, 27), msk(2026, 11, 28))
    assert figures["conversations"] == 1 and figures["resolved"] == 0
    frt = figures["frt"]
    assert frt["count"] == 1 and frt["business_avg_seconds"] == 20 * 60 and frt["business_p50_seconds"] == 20 * 60
    assert frt["avg_seconds"] == frt["p50_seconds"] == frt["p90_seconds"] == (2 * 24 * 60 + 15 * 60 + 20) * 60
    assert figures["resolution"]["count"] == 0 and figures["resolution"]["avg_seconds"] is None
    assert figures["fcr_rate"] is None and figures["repeat_contact_rate"] is None  # no data is null, never 0
    assert figures["csat"] == {"responses": 0, "score": None}
    assert figures["first_touch"] == {"api": 1} and figures["channel_share"] == {"api": {"conversations": 1, "share": 1.0}}


async def test_a_contact_on_another_channel_about_the_same_reason_is_a_repeat_not_fcr(client, ctx, travel) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    first_channel = await make_api_channel(client, headers)
    phone_desk = await make_api_channel(client, headers)
    travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    first = await write(client, ctx, first_channel, "+79162220002")
    await reply(client, ctx, headers, first)
    await resolve(client, ctx, headers, first, "delivery")
    day = await summary(client, headers, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
    assert day["fcr_rate"] == 1.0 and day["repeat_contact_rate"] == 0.0  # FCR as of now

    travel(datetime(2026, 12, 4, 12, 0, tzinfo=UTC))  # three days later, another channel, same customer
    second = await write(client, ctx, phone_desk, "+79162220002", "Заказ так и не пришёл")
    assert second != first
    await reply(client, ctx, headers, second)
    await resolve(client, ctx, headers, second, "delivery")

    day = await summary(client, headers, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
    assert day["resolved"] == 1 and day["fcr_rate"] == 0.0 and day["repeat_contact_rate"] == 1.0
    later = await summary(client, headers, datetime(2026, 12, 4, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC))
    assert later["fcr_rate"] == 1.0 and later["repeat_contact_rate"] == 0.0
    by_channel = await summary(client, headers, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC), channel_id=phone_desk["id"])
    assert by_channel["conversations"] == 1
    daily = await client.get(
        "/api/v1/reports/timeseries", params={"metric": "fcr_rate", "interval": "day", "from": "2026-12-01T00:00:00Z", "to": "2026-12-05T00:00:00Z"}, headers=headers
    )
    assert [p["value"] for p in daily.json()["points"]] == [0.0, None, None, 1.0]
    operators = (await client.get("/api/v1/reports/operators", params={"from": "2026-12-01T00:00:00Z", "to": "2026-12-05T00:00:00Z"}, headers=headers)).json()
    assert [(o["frt"]["count"], o["handled"]) for o in operators["items"]] == [(2, 0)]  # the admin answered both; nobody was assigned


async def test_survey_events_give_csat_nps_ces_by_the_conversations_resolution(client, ctx, travel) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    travel(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    conversation = await write(client, ctx, channel, "+79163330003")
    await reply(client, ctx, headers, conversation)
    await resolve(client, ctx, headers, conversation)
    customer_id = (await client.get(f"/api/v1/conversations/{conversation}", headers=headers)).json()["customer_id"]
    base = {"conversation_id": conversation, "customer_id": customer_id, "channel_id": channel["id"], "team_id": None, "operator_id": None}
    async with ctx.db.transaction() as session:
        for survey_id, kind, score in ((1, "csat", 5), (2, "nps", 10), (3, "ces", 3)):
            await record_event(session, SurveySent(survey_id=survey_id, kind=kind, sent_at="2026-12-01T10:05:00+00:00", **base))
            await record_event(session, SurveyAnswered(survey_id=survey_id, kind=kind, score=score, answered_at="2026-12-02T08:00:00+00:00", comment="=cmd|' /C calc'!A0", **base))
    await ctx.settle()
    await ctx.settle()  # redelivery changes nothing: handlers are idempotent

    figures = await summary(client, headers, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
    assert figures["csat"] == {"responses": 1, "score": 100.0}
    assert figures["nps"] == {"responses": 1, "score": 100.0}
    assert figures["ces"] == {"responses": 1, "score": 3.0}
    export = await client.get(
        "/api/v1/reports/export", params={"report": "survey_answers", "format": "csv", "from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z"}, headers=headers
    )
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["survey_id", "conversation_id", "kind", "score"] and len(rows) == 4
    assert all(row[4].startswith("'=") for row in rows[1:])  # formulas neutralised
    xlsx = await client.get(
        "/api/v1/reports/export", params={"report": "summary", "format": "xlsx", "from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z"}, headers=headers
    )
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    erased = await client.post(f"/api/v1/customers/{customer_id}/erase", json={"reason": "просьба клиента"}, headers=headers)
    assert erased.status_code == 200, erased.text
    again = await client.get(export.url.path, params=dict(export.url.params), headers=headers)
    rows = list(csv.reader(io.StringIO(again.text.lstrip("\ufeff"))))
    assert len(rows) == 4 and all(row[4] == "" for row in rows[1:])  # the comments went with the erase; the scores stay


async def test_reports_are_for_managers_and_scoped_to_their_teams(client, ctx, travel) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    team_a, team_b = await office_team(client, headers), await office_team(client, headers)
    travel(datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    for n, team in enumerate((team_a, team_b)):
        channel = await make_api_channel(client, headers, team_id=team["id"])
        await write(client, ctx, channel, f"+7916444000{n}")
    supervisor = await make_operator(ctx, role="supervisor")
    operator = await make_operator(ctx)
    await client.post(f"/api/v1/teams/{team_a['id']}/members", json={"operator_id": supervisor["id"]}, headers=headers)
    window = (datetime(2026, 12, 2, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC))
    assert (await summary(client, headers, *window))["conversations"] == 2
    assert (await summary(client, await login(client, email=supervisor["email"]), *window))["conversations"] == 1
    refused = await client.get("/api/v1/reports/summary", params={"from": "2026-12-02T00:00:00Z", "to": "2026-12-03T00:00:00Z"}, headers=await login(client, email=operator["email"]))
    assert refused.status_code == 403
    bad = await client.get("/api/v1/reports/summary", params={"from": "2026-12-03T00:00:00Z", "to": "2026-12-02T00:00:00Z"}, headers=headers)
    assert bad.status_code == 422 and "after" in bad.text
    series = await client.get(
        "/api/v1/reports/timeseries", params={"metric": "conversations", "interval": "hour", "from": "2026-12-02T09:00:00Z", "to": "2026-12-02T12:00:00Z"}, headers=headers
    )
    assert series.status_code == 200 and [p["value"] for p in series.json()["points"]] == [0, 2, 0]
    edge = await client.get("/api/v1/reports/timeseries", params={"metric": "resolved", "interval": "week", "from": "9999-12-30T00:00:00Z", "to": "9999-12-31T23:00:00Z"}, headers=headers)
    assert edge.status_code == 200 and len(edge.json()["points"]) == 1  # the last bucket stops at ``to``
    assert (await client.get("/api/v1/reports/timeseries", params={"metric": "nope", "from": "2026-12-02T09:00:00Z", "to": "2026-12-02T12:00:00Z"}, headers=headers)).status_code == 422


async def test_whatsapp_then_a_call_about_the_same_reason_within_a_week_is_a_repeat_contact(client, ctx, travel) -> None:  # noqa: ANN001
    """The issue's case: the customer writes in WhatsApp (the real adapter, through its fake
    provider's signed webhook), then calls (a call through the API channel, its own thread); the
    wa_id proves the phone, so both are one customer, and the first is a repeat, not FCR."""
    from tests.conftest import LoopbackServer

    from okno.channels.adapters.whatsapp.fake import FakeWhatsApp

    headers = await admin_headers(ctx, client)
    telephony = await make_api_channel(client, headers)
    fake = FakeWhatsApp()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        created = await client.post("/api/v1/channels", json={"kind": "whatsapp", "name": "WhatsApp", "config": fake.channel_config()}, headers=headers)
        assert created.status_code == 201, created.text
        fake.connect(client, f"/webhooks/{created.json()['id']}")
        travel(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
        assert (await fake.deliver_text("79165550005", "Где мой заказ?")).status_code == 200
        await ctx.settle()
        async with ctx.db.reading() as session:
            from sqlalchemy import select

            from okno.models import Conversation

            whatsapp_conversation = await session.scalar(select(Conversation.id).order_by(Conversation.id.desc()).limit(1))
        await reply(client, ctx, headers, whatsapp_conversation)
        await resolve(client, ctx, headers, whatsapp_conversation, "delivery")

        travel(datetime(2026, 12, 10, 15, 0, tzinfo=UTC))
        call = {"message_id": "call-1", "from": {"phone": "+79165550005"}, "kind": "call", "thread_id": "call-1", "text": "Звонок: заказ не пришёл"}
        assert (await post_inbound(client, telephony, call)).status_code == 200
        await ctx.settle()
        async with ctx.db.reading() as session:
            customers = set(await session.scalars(select(Conversation.customer_id)))
            call_conversation = await session.scalar(select(Conversation.id).order_by(Conversation.id.desc()).limit(1))
        assert len(customers) == 1 and call_conversation != whatsapp_conversation
        await reply(client, ctx, headers, call_conversation)
        await resolve(client, ctx, headers, call_conversation, "delivery")

    week = await summary(client, headers, datetime(2026, 12, 7, tzinfo=UTC), datetime(2026, 12, 8, tzinfo=UTC))
    assert week["first_touch"] == {"whatsapp": 1}
    assert week["fcr_rate"] == 0.0 and week["repeat_contact_rate"] == 1.0
    both = await summary(client, headers, datetime(2026, 12, 7, tzinfo=UTC), datetime(2026, 12, 14, tzinfo=UTC))
    assert both["first_touch"] == {"api": 1, "whatsapp": 1} and both["fcr_rate"] == 0.5


async def test_channel_share_counts_a_conversation_in_every_kind_it_used(client, ctx, travel) -> None:  # noqa: ANN001
    """A conversation begun in WhatsApp that the customer continues through the API channel is in
    both shares (the fact's set of kinds) and in WhatsApp's first touch; the channel filter finds
    it through either channel."""
    from tests.conftest import LoopbackServer

    from okno.channels.adapters.whatsapp.fake import FakeWhatsApp

    headers = await admin_headers(ctx, client)
    api = await make_api_channel(client, headers)
    fake = FakeWhatsApp()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        created = await client.post("/api/v1/channels", json={"kind": "whatsapp", "name": "WhatsApp", "config": fake.channel_config()}, headers=headers)
        assert created.status_code == 201, created.text
        whatsapp = created.json()
        fake.connect(client, f"/webhooks/{whatsapp['id']}")
        travel(datetime(2026, 12, 14, 8, 0, tzinfo=UTC))
        assert (await fake.deliver_text("79165550007", "Где мой заказ?")).status_code == 200
        await ctx.settle()
        travel(datetime(2026, 12, 14, 8, 5, tzinfo=UTC))
        both = await write(client, ctx, api, "+79165550007", "Пишу сюда: заказ так и не пришёл")
        travel(datetime(2026, 12, 14, 9, 0, tzinfo=UTC))
        only_api = await write(client, ctx, api, "+79165550008")
    async with ctx.db.reading() as session:
        from sqlalchemy import func, select

        from okno.models import Message

        kinds_used = await session.scalar(select(func.count(func.distinct(Message.channel_id))).where(Message.conversation_id == both))
    assert kinds_used == 2 and only_api != both  # the API message continued the WhatsApp conversation

    day = (datetime(2026, 12, 14, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC))
    figures = await summary(client, headers, *day)
    assert figures["conversations"] == 2
    assert figures["channel_share"] == {"api": {"conversations": 2, "share": 1.0}, "whatsapp": {"conversations": 1, "share": 0.5}}
    assert figures["first_touch"] == {"api": 1, "whatsapp": 1}
    through_whatsapp = await summary(client, headers, *day, channel_id=whatsapp["id"])
    assert through_whatsapp["channel_share"] == {"api": {"conversations": 1, "share": 1.0}, "whatsapp": {"conversations": 1, "share": 1.0}}
    series = await client.get(
        "/api/v1/reports/timeseries", params={"metric": "channel_share", "interval": "day", "from": day[0].isoformat(), "to": day[1].isoformat()}, headers=headers
    )
    assert series.status_code == 200 and [p["value"] for p in series.json()["points"]] == [figures["channel_share"]]
