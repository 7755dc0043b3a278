"""The demo shows SMS and reviews: served with the fake providers mounted and the workers on,
the review sites' fakes are polled into conversations (the 1-star one urgent), and an SMS reply
is accepted by the fake SMS.ru and reported delivered back through the channel's webhook."""

from __future__ import annotations

from sqlalchemy import select

from okno.models import Identity
from tests.test_simulator import Live, _eventually, live  # noqa: F401  (fixture)


async def test_reviews_arrive_and_an_sms_reply_is_delivered(live: Live) -> None:  # noqa: F811
    channels = await live.channel_ids()
    assert {"smsru", "google_reviews", "twogis_reviews", "yandex_reviews"} <= set(channels)

    async def reviews_in() -> bool:
        items = (await live.get("/api/v1/conversations", limit=200))["items"]
        by_channel = {}
        for c in items:
            by_channel.setdefault(c["channel_id"], []).append(c)
        got = [by_channel.get(channels[k], []) for k in ("google_reviews", "twogis_reviews", "yandex_reviews")]
        assert all(len(g) == 3 for g in got), [len(g) for g in got]
        assert all(sorted(c["priority"] for c in g) == [1, 1, 2] for g in got)
        return True

    await _eventually(reviews_in, timeout=30)

    async with live.app.state.ctx.db.reading() as session:
        customer_id = await session.scalar(select(Identity.customer_id).where(Identity.kind == "phone").order_by(Identity.id).limit(1))
    conversation = (await live.get("/api/v1/conversations", customer_id=customer_id))["items"][0]
    posted = await live.http.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Ваш заказ готов к выдаче", "channel_id": channels["smsru"]},
        headers=live.headers,
    )
    assert posted.status_code == 201, posted.text

    async def delivered() -> bool:
        messages = (await live.get(f"/api/v1/conversations/{conversation['id']}/messages"))["items"]
        sms = next(m for m in messages if m["id"] == posted.json()["id"])
        assert sms["status"] == "delivered", sms
        return True

    await _eventually(delivered, timeout=30)
