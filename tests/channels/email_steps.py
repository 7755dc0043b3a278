"""Steps the e-mail channel's tests share: an e-mail channel made through the API, the stored
messages in order."""

from __future__ import annotations

from sqlalchemy import select

from okno.models import Message
from tests.factories import admin_headers


async def make_email_channel(client, ctx, config: dict) -> dict:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    created = await client.post("/api/v1/channels", json={"kind": "email", "name": "Почта", "config": config}, headers=headers)
    assert created.status_code == 201, created.text
    return {**created.json(), "headers": headers}


async def messages_in_order(ctx) -> list[Message]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())
