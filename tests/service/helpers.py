"""Set-ups shared by the service-process tests: a conversation opened through the real webhook."""

from __future__ import annotations

import secrets

import httpx
from sqlalchemy import select

from okno.context import AppContext
from okno.models import OutboxEvent, TimelineEvent
from tests.factories import admin_headers, make_api_channel, post_inbound


async def open_conversation(
    client: httpx.AsyncClient, ctx: AppContext, headers: dict[str, str], *, channel: dict | None = None, text: str = "Где мой заказ?"
) -> dict:
    channel = channel or await make_api_channel(client, await admin_headers(ctx, client))
    phone = "+7916" + "".join(secrets.choice("0123456789") for _ in range(7))
    response = await post_inbound(client, channel, {"message_id": secrets.token_hex(6), "from": {"phone": phone}, "text": text})
    assert response.status_code == 200, response.text
    await ctx.settle()
    found = (await client.get("/api/v1/customers", params={"identity": f"phone:{phone}"}, headers=headers)).json()["items"]
    conversations = (await client.get("/api/v1/conversations", params={"customer_id": found[0]["id"]}, headers=headers)).json()
    return conversations["items"][0]


async def timeline_of(ctx: AppContext, conversation_id: int, kind: str) -> list[TimelineEvent]:
    async with ctx.db.reading() as session:
        rows = await session.scalars(
            select(TimelineEvent).where(TimelineEvent.conversation_id == conversation_id, TimelineEvent.kind == kind).order_by(TimelineEvent.id)
        )
        return list(rows)


async def outbox_of(ctx: AppContext, topic: str) -> list[dict]:
    async with ctx.db.reading() as session:
        rows = await session.scalars(select(OutboxEvent.payload).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id))
        return list(rows)
