"""Group commit of webhooks: concurrency, duplicates inside one group, and the fallback path."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from okno.channels.base import InboundMessage, SenderIdentity
from okno.models import Channel, Customer, InboundItem, Message
from tests.factories import admin_headers, make_api_channel, post_inbound


async def test_concurrent_webhooks_share_commits_and_count_duplicates_exactly(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    payloads = [{"message_id": f"m{i % 30}", "from": {"phone": f"+7916000{i % 7:04d}"}, "text": f"текст {i % 30}"} for i in range(60)]
    responses = await asyncio.gather(*(post_inbound(client, channel, p) for p in payloads))
    assert all(r.status_code == 200 for r in responses)
    assert sum(r.json()["accepted"] for r in responses) == 30
    assert sum(r.json()["duplicates"] for r in responses) == 30
    async with ctx.db.reading() as session:
        texts = sorted((await session.scalars(select(Message.text))).all())
        statuses = set((await session.scalars(select(InboundItem.status))).all())
    assert texts == sorted(f"текст {i}" for i in range(30))  # processed inline: no settle needed
    assert statuses == {"done"}


async def test_a_failing_pipeline_leaves_items_pending_for_the_processor(client, ctx, monkeypatch) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    real_apply = ctx.ingest.apply
    calls = {"n": 0}

    async def flaky_apply(session, prepared):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("pipeline bug")
        return await real_apply(session, prepared)

    monkeypatch.setattr(ctx.ingest, "apply", flaky_apply)
    response = await post_inbound(client, channel, {"message_id": "f1", "from": {"phone": "+79160000001"}, "text": "не потеряй меня"})
    assert response.status_code == 200 and response.json() == {"accepted": 1, "duplicates": 0}
    async with ctx.db.reading() as session:
        assert await session.scalar(select(InboundItem.status)) == "pending"
        assert await session.scalar(select(func.count()).select_from(Message)) == 0
    await ctx.settle()
    async with ctx.db.reading() as session:
        assert await session.scalar(select(InboundItem.status)) == "done"
        assert (await session.scalars(select(Message.text))).all() == ["не потеряй меня"]


async def test_a_sender_without_usable_identity_is_refused_up_front(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    response = await post_inbound(client, channel, {"message_id": "x", "from": {"phone": "не телефон"}, "text": "hi"})
    assert response.status_code == 422 and "not a phone number" in response.json()["detail"]
    async with ctx.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(InboundItem)) == 0


async def test_nul_characters_are_dropped_not_fatal(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    response = await post_inbound(client, channel, {"message_id": "n\u0000ul", "from": {"phone": "+79160000002", "name": "Ива\u0000н"}, "text": "при\u0000вет"})
    assert response.status_code == 200 and response.json()["accepted"] == 1
    async with ctx.db.reading() as session:
        assert (await session.scalars(select(Message.text))).all() == ["привет"]


async def test_one_unusable_message_does_not_block_the_others_of_a_batch(ctx) -> None:
    async with ctx.db.transaction() as session:
        channel = Channel(kind="api", name="batch", config_sealed="")
        session.add(channel)
        await session.flush()
        channel_id = channel.id
    good = InboundMessage(provider_id="g", sender=[SenderIdentity(kind="phone", value="+79160000003")], text="ok")
    bad = InboundMessage(provider_id="b", sender=[SenderIdentity(kind="phone", value="nope")], text="lost?")
    accepted = await ctx.intake.submit(channel_id, [good], b"{}", [(bad, "no usable sender identity: nope")])
    assert (accepted.stored, accepted.duplicates) == (1, 0)
    async with ctx.db.reading() as session:
        rows = dict((await session.execute(select(InboundItem.provider_id, InboundItem.status))).all())
        error = await session.scalar(select(InboundItem.error).where(InboundItem.provider_id == "b"))
        texts = (await session.scalars(select(Message.text))).all()
    assert rows == {"g": "done", "b": "failed"} and "nope" in error and texts == ["ok"]


async def test_an_unexpected_failure_on_the_webhook_path_is_a_json_500_not_a_dropped_connection(client, ctx, monkeypatch) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)

    async def broken_directory(channel_id):  # noqa: ANN001, ANN202
        raise RuntimeError("directory bug")

    monkeypatch.setattr(ctx.channels, "find", broken_directory)  # what get() and the webhook path use
    response = await post_inbound(client, channel, {"message_id": "x1", "from": {"phone": "+79160000001"}, "text": "привет"})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}
    async with ctx.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(InboundItem)) == 0


async def test_a_later_message_names_nameless_customers_in_one_group_and_keeps_given_names(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    first = [
        {"message_id": "a1", "from": {"phone": "+79160000011"}, "text": "без имени"},
        {"message_id": "b1", "from": {"phone": "+79160000012"}, "text": "тоже без имени"},
        {"message_id": "c1", "from": {"phone": "+79160000013", "name": "Ольга"}, "text": "с именем"},
    ]
    for payload in first:
        assert (await post_inbound(client, channel, payload)).status_code == 200
    later = [
        {"message_id": "a2", "from": {"phone": "+79160000011", "name": "Анна"}, "text": "теперь с именем"},
        {"message_id": "b2", "from": {"phone": "+79160000012", "name": "Борис"}, "text": "и я"},
        {"message_id": "c2", "from": {"phone": "+79160000013", "name": "Не Ольга"}, "text": "имя уже есть"},
    ]
    responses = await asyncio.gather(*(post_inbound(client, channel, p) for p in later))  # one group commit
    assert all(r.status_code == 200 for r in responses)
    async with ctx.db.reading() as session:
        names = sorted((await session.scalars(select(Customer.name))).all())
    assert names == ["Анна", "Борис", "Ольга"]


async def test_a_groups_requests_are_answered_before_the_next_group_is_stored() -> None:
    from okno.channels.intake import WebhookIntake

    order: list[str] = []
    release = asyncio.Event()

    class Recording(WebhookIntake):
        async def _store(self, group, *, process):  # noqa: ANN001, ANN202
            order.append("store " + ",".join(s.raw for s in group))
            for submission in group:
                submission.fresh = [True] * len(submission.items)
            if group[0].raw == "a":
                await release.wait()  # the others arrive while the first group is being stored
            return sum(len(s.items) for s in group)

    intake = Recording(db=None, processor=None)  # type: ignore[arg-type]

    async def request(raw: str) -> None:
        item = InboundMessage(provider_id=raw, sender=[SenderIdentity(kind="phone", value="+79160000001")], text=raw)
        await intake.submit(1, [item], raw.encode())
        order.append("answered " + raw)

    first = asyncio.create_task(request("a"))
    await asyncio.sleep(0.01)
    rest = [asyncio.create_task(request(raw)) for raw in ("b", "c")]
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.gather(first, *rest)
    # the writer's BEGIN and statements run in place: without a turn of the event loop between
    # groups, "a" would only be answered once the next group reached its COMMIT
    assert order == ["store a", "answered a", "store b,c", "answered b", "answered c"]
