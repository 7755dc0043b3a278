"""Steps the e-mail channel's tests share: an e-mail channel made through the API, the stored
messages in order, a poll made due, waiting until the messages hold."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select, update

from okno.kit.time import utcnow
from okno.models import ChannelPollState, Message
from tests.factories import admin_headers


async def make_email_channel(client, ctx, config: dict) -> dict:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    created = await client.post("/api/v1/channels", json={"kind": "email", "name": "Почта", "config": config}, headers=headers)
    assert created.status_code == 201, created.text
    return {**created.json(), "headers": headers}


async def messages_in_order(ctx) -> list[Message]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def make_poll_due(ctx, channel_id: int) -> None:  # noqa: ANN001
    """The channel's next poll is now, so the poll worker takes it on its next pass."""
    async with ctx.db.transaction() as session:
        await session.execute(update(ChannelPollState).where(ChannelPollState.channel_id == channel_id).values(next_poll_at=utcnow()))


async def until_messages(ctx, predicate, timeout: float = 5.0) -> float:  # noqa: ANN001
    """Settles okno until ``predicate(messages)`` holds; the seconds it took."""
    started = time.monotonic()
    while True:
        await ctx.settle()
        if predicate(await messages_in_order(ctx)):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s: {[(m.direction, m.text) for m in await messages_in_order(ctx)]}")
        await asyncio.sleep(0.02)
