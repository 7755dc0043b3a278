"""2GIS and Yandex reviews (unofficial, read-only): recorded list pages polled through the real
adapters over HTTP, pages walked one poll each, a negative review made urgent, and the review
marked answered (resolved with the cabinet reason) since no reply can be posted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from okno.channels.adapters.twogis_reviews.fake import FakeTwoGisReviews
from okno.channels.adapters.yandex_reviews.fake import FakeYandexReviews
from okno.kit.time import utcnow
from okno.models import ChannelPollState, Conversation, Message, OutboxEvent, Priority
from tests.conftest import LoopbackServer
from tests.factories import PASSWORD, admin_headers, make_operator

TWOGIS = json.loads((Path(__file__).parent / "fixtures" / "twogis_reviews" / "reviews_page.json").read_text(encoding="utf-8"))
YANDEX = json.loads((Path(__file__).parent / "fixtures" / "yandex_reviews" / "fetch_reviews.json").read_text(encoding="utf-8"))
CASES = {
    "twogis_reviews": (FakeTwoGisReviews, TWOGIS["reviews"], "141203554", 2),
    "yandex_reviews": (FakeYandexReviews, YANDEX["data"]["reviews"], "Pq9xTz_recorded_01", 1),
}


@pytest.fixture(params=sorted(CASES))
async def site(request, client, ctx):  # noqa: ANN001, ANN201
    make, recorded, negative_id, stars = CASES[request.param]
    fake = make()
    async with LoopbackServer(fake.app) as server:
        fake.base_url = server.url
        headers = await admin_headers(ctx, client)
        created = await client.post("/api/v1/channels", json={"kind": request.param, "name": "Отзывы", "config": fake.channel_config()}, headers=headers)
        assert created.status_code == 201, created.text
        yield fake, created.json(), headers, recorded, negative_id, stars


async def _poll(ctx) -> int:  # noqa: ANN001
    async with ctx.db.transaction() as session:
        await session.execute(update(ChannelPollState).values(next_poll_at=utcnow()))
    rounds = 0
    while await ctx.polls.drain_once():
        rounds += 1
    await ctx.settle()
    return rounds


async def _rows(ctx, model) -> list:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def test_recorded_reviews_arrive_the_negative_one_urgent_and_it_is_marked_answered(client, ctx, site) -> None:
    fake, channel, headers, recorded, negative_id, stars = site
    for review in recorded:
        fake.add_recorded(review)
    await _poll(ctx)
    assert sorted(m.text for m in await _rows(ctx, Message)) == sorted(r["text"] for r in recorded)
    conversations = {c.thread_key: c for c in await _rows(ctx, Conversation)}
    assert set(conversations) == {str(r.get("id") or r.get("reviewId")) for r in recorded}
    urgent = conversations[negative_id]
    assert urgent.priority == Priority.high.value
    assert [e.payload["stars"] for e in await _rows(ctx, OutboxEvent) if e.topic == "review.negative"] == [stars]
    assert await _poll(ctx) == 1 and len(await _rows(ctx, Message)) == len(recorded)  # re-read: nothing new

    # no reply can be posted; the operator answers in the cabinet and marks it answered
    refused = await client.post(f"/api/v1/conversations/{urgent.id}/messages", json={"text": "Простите"}, headers=headers)
    assert refused.status_code == 422 and "cabinet" in refused.text
    resolved = await client.post(
        f"/api/v1/conversations/{urgent.id}/status", json={"status": "resolved", "reason": "answered_at_provider", "comment": "ответили в кабинете"}, headers=headers
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and resolved.json()["reason"] == "answered_at_provider"


async def test_pages_are_walked_one_poll_each(client, ctx, site) -> None:
    fake, *_ = site
    for n in range(120):
        fake.add_review(f"Гость {n}", 5, f"Отзыв {n}")
    assert await _poll(ctx) == 3  # 50 + 50 + 20
    assert len(await _rows(ctx, Message)) == 120
    fake.add_review("Гость 120", 3, "Новый")
    await _poll(ctx)
    assert [m.text for m in await _rows(ctx, Message)][-1] == "Новый" and len(await _rows(ctx, Message)) == 121


async def test_the_conversation_shows_the_stars_the_cabinet_and_mark_answered(client, ctx, site) -> None:
    fake, channel, headers, recorded, negative_id, stars = site
    for review in recorded:
        fake.add_recorded(review)
    await _poll(ctx)
    urgent = next(c for c in await _rows(ctx, Conversation) if c.thread_key == negative_id)
    await _sign_in(client, ctx)
    html = (await client.get(f"/ui/conversations/{urgent.id}")).text
    assert 'data-testid="review-panel"' in html and "★" * stars + "☆" * (5 - stars) in html
    assert 'data-testid="mark-answered"' in html and 'data-testid="review-cabinet"' in html and 'href="https://' in html


async def _sign_in(client, ctx) -> None:  # noqa: ANN001
    operator = await make_operator(ctx, role="admin")
    assert (await client.post("/ui/session", json={"email": operator["email"], "password": PASSWORD})).status_code == 200
