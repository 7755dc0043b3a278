"""An e-mail-like message in a conversation, seeded as the e-mail adapter leaves one: the new text,
the subject and the HTML through the (signed) API channel, then the quoted history in the
``message.received`` timeline entry's context, where ingest files ``InboundMessage.context``."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from okno.models import Message, TimelineEvent
from tests.factories import post_inbound

QUOTED = "On Mon, 2 Nov 2026 at 10:15, Okno Support <support@okno.example> wrote:\n> Здравствуйте!\n> Подскажите номер заказа."
HTML = (
    '<p>The order number is <b>58213</b>.</p><img src="cid:shot@okno.test" alt="screenshot">'
    '<blockquote>Здравствуйте! Подскажите номер заказа.</blockquote><script>window.parent.__pwned = 1</script>'
)
ATTACHMENTS = [
    {"kind": "image", "name": "shot.png", "content_id": "shot@okno.test", "url": "https://cdn.example/shot.png"},
    {"kind": "file", "name": "invoice.pdf", "url": "https://cdn.example/invoice.pdf", "size": 2048},
]


async def seed_email(ctx, client: httpx.AsyncClient, channel: dict, *, message_id: str = "mail-1", name: str = "Anna Petrova") -> int:  # noqa: ANN001
    payload = {
        "message_id": message_id, "from": {"email": "anna.petrova@example.com", "name": name}, "thread_id": f"<{message_id}@example.com>",
        "subject": "Re: Payment not received", "text": "The order number is 58213.", "html": HTML, "attachments": ATTACHMENTS,
    }
    response = await post_inbound(client, channel, payload)
    assert response.status_code == 200, response.text
    await ctx.settle()
    async with ctx.db.transaction() as session:
        stored = await session.scalar(select(Message).where(Message.provider_message_id == message_id))
        event = await session.scalar(select(TimelineEvent).where(TimelineEvent.message_id == stored.id, TimelineEvent.kind == "message.received"))
        event.data = {**event.data, "context": {"email": {"quoted": QUOTED}}}
        return stored.id
