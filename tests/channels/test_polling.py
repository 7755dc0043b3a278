"""Polling ingress: the poll worker against the example plugin's guestbook, served on loopback.

The cursor moves only in the transaction that stores what it covers; a re-poll's duplicates are
ignored; errors back off, and a refused key makes the channel need action (one event per change).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from okno.kit.time import utcnow
from okno.models import Channel, ChannelPollState, Identity, InboundItem, Message, OutboxEvent
from tests.conftest import LoopbackServer
from tests.factories import admin_headers
from tests.plugins.guestbook import API_KEY, guestbook_kind  # noqa: F401  (fixture)


@pytest.fixture
async def fake_guestbook(guestbook_kind):  # noqa: ANN001, ANN201, F811
    from okno_example_channel.fake import FakeGuestbook

    fake = FakeGuestbook(api_key=API_KEY)
    async with LoopbackServer(fake.app) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
async def channel(fake_guestbook, app, client, ctx):  # noqa: ANN001, ANN201
    headers = await admin_headers(ctx, client)
    created = await client.post(
        "/api/v1/channels",
        json={"kind": "guestbook", "name": "Гостевая", "config": {"base_url": fake_guestbook.url, "api_key": API_KEY, "poll_seconds": 60}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return {**created.json(), "headers": headers}


async def _state(ctx, channel_id: int) -> ChannelPollState:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.get(ChannelPollState, channel_id)


async def _make_due(ctx, channel_id: int) -> None:  # noqa: ANN001
    async with ctx.db.transaction() as session:
        await session.execute(update(ChannelPollState).where(ChannelPollState.channel_id == channel_id).values(next_poll_at=utcnow()))


async def _count(ctx, query) -> int:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(query)


async def _health_events(ctx) -> list[dict]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        rows = await session.scalars(select(OutboxEvent.payload).where(OutboxEvent.topic == "channel.health_changed").order_by(OutboxEvent.id))
        return list(rows.all())


async def test_polled_entries_become_conversations_with_the_plugins_identity_kind(channel, fake_guestbook, client, ctx) -> None:
    assert channel["webhook_url"] is None and channel["polling"]["failures"] == 0  # a poll-only channel
    fake_guestbook.add_entry("@Anna_K", "Здравствуйте, где мой заказ?", name="Анна", phone="8 916 123-45-67", phone_verified=True, email="anna@example.org")
    fake_guestbook.add_entry("boris", "Спасибо!", name="Борис")

    assert await ctx.polls.drain_once() == 1
    state = await _state(ctx, channel["id"])
    assert state.cursor == {"last_id": 2} and state.failures == 0 and state.last_success_at is not None and state.locked_until is None
    assert state.next_poll_at > utcnow() + timedelta(seconds=50)  # the adapter's interval
    await ctx.settle()

    async with ctx.db.reading() as session:
        keys = set((await session.execute(select(Identity.kind, Identity.value))).all())
    # the plugin's own kind, normalised by its normaliser; the verified phone proves (a plugin rule),
    # the typed e-mail is evidence only (another plugin rule)
    assert {("guestbook", "anna_k"), ("guestbook", "boris"), ("phone", "+79161234567")} == keys
    listed = (await client.get("/api/v1/channels", headers=channel["headers"])).json()["items"][0]
    assert listed["polling"]["last_success_at"] is not None and listed["health"] == "ok"

    conversations = (await client.get("/api/v1/conversations", headers=channel["headers"])).json()["items"]
    assert len(conversations) == 2
    conversation = conversations[0]
    posted = await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Отвечаем!"}, headers=channel["headers"])
    assert posted.status_code == 201, posted.text
    await ctx.settle()
    assert [(r["text"], r["idempotency_key"] != "") for r in fake_guestbook.replies] == [("Отвечаем!", True)]
    assert fake_guestbook.replies[0]["to"] in {"anna_k", "boris"}


async def test_a_crash_between_poll_and_store_loses_nothing_and_duplicates_nothing(channel, fake_guestbook, ctx, monkeypatch) -> None:  # noqa: ANN001
    fake_guestbook.add_entry("anna_k", "первое")
    fake_guestbook.add_entry("anna_k", "второе")

    # 1. the store transaction fails after the poll: neither the items nor the cursor are kept
    from okno.channels import polling

    async def broken_insert(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disk full")

    monkeypatch.setattr(polling, "insert_raw_items", broken_insert)
    assert await ctx.polls.drain_once() == 1
    state = await _state(ctx, channel["id"])
    assert state.cursor == {} and state.failures == 1 and "disk full" in state.last_error
    assert await _count(ctx, select(func.count()).select_from(InboundItem)) == 0
    monkeypatch.undo()

    # 2. the process dies after polling, before storing: the lease runs out, the next worker polls again
    await _make_due(ctx, channel["id"])
    claims = await ctx.polls._claim()  # noqa: SLF001
    assert len(claims) == 1
    polled = await ctx.polls._poll(await ctx.channels.get(channel["id"]), claims[0])  # noqa: SLF001
    assert len(polled.items) == 2  # ...and here the process is killed
    assert await ctx.polls.drain_once() == 0  # still leased: nobody polls it twice at once
    async with ctx.db.transaction() as session:  # time passes: the lease runs out
        await session.execute(update(ChannelPollState).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert await ctx.polls.drain_once() == 1
    # the dead worker's late store finds its lease gone and changes nothing
    with pytest.raises(polling.LeaseLost):
        await ctx.polls.store(await ctx.channels.get(channel["id"]), claims[0], polled)
    state = await _state(ctx, channel["id"])
    assert state.cursor == {"last_id": 2} and state.failures == 0 and state.last_error is None
    assert await _count(ctx, select(func.count()).select_from(InboundItem)) == 2

    # 3. the provider sends everything again (a cursor lost on its side): duplicates are ignored
    async with ctx.db.transaction() as session:
        await session.execute(update(ChannelPollState).values(cursor={}, next_poll_at=utcnow()))
    assert await ctx.polls.drain_once() == 1
    await ctx.settle()
    assert await _count(ctx, select(func.count()).select_from(InboundItem)) == 2
    assert await _count(ctx, select(func.count()).select_from(Message)) == 2
    assert (await _state(ctx, channel["id"])).cursor == {"last_id": 2}


async def test_errors_back_off_and_a_refused_key_makes_the_channel_need_action_once(channel, fake_guestbook, client, ctx) -> None:
    fake_guestbook.revoke_key()
    before = utcnow()
    assert await ctx.polls.drain_once() == 1
    after = utcnow()  # the failure's moment lies between: the retry is due a jittered backoff after it
    first = await _state(ctx, channel["id"])
    assert first.failures == 1 and "401" in first.last_error and first.last_success_at is None
    base = ctx.settings.poll_backoff_base_seconds
    assert before + timedelta(seconds=base * 0.7) < first.next_poll_at < after + timedelta(seconds=base * 1.3)
    assert await ctx.polls.drain_once() == 0  # not due yet: backing off

    await _make_due(ctx, channel["id"])
    before = utcnow()
    assert await ctx.polls.drain_once() == 1
    second = await _state(ctx, channel["id"])
    assert second.failures == 2 and second.next_poll_at > before + timedelta(seconds=base * 2 * 0.7)  # doubled

    shown = (await client.get(f"/api/v1/channels/{channel['id']}", headers=channel["headers"])).json()
    assert shown["health"] == "needs_action" and "401" in shown["health_reason"] and shown["health_changed_at"]
    assert shown["polling"]["failures"] == 2 and "401" in shown["polling"]["last_error"]
    events = await _health_events(ctx)
    assert [(e["health"], e["previous"]) for e in events] == [("needs_action", "ok")]  # once, not per failure

    fake_guestbook.restore_key()
    fake_guestbook.add_entry("anna_k", "я снова тут")
    await _make_due(ctx, channel["id"])
    assert await ctx.polls.drain_once() == 1
    recovered = await _state(ctx, channel["id"])
    assert recovered.failures == 0 and recovered.last_error is None and recovered.cursor == {"last_id": 1}
    shown = (await client.get(f"/api/v1/channels/{channel['id']}", headers=channel["headers"])).json()
    assert shown["health"] == "ok" and shown["health_reason"] is None
    assert [(e["health"], e["previous"]) for e in await _health_events(ctx)] == [("needs_action", "ok"), ("ok", "needs_action")]


async def test_a_revoked_key_seen_by_delivery_makes_the_channel_need_action(channel, fake_guestbook, client, ctx) -> None:
    fake_guestbook.add_entry("anna_k", "вопрос")
    await ctx.settle()
    conversation = (await client.get("/api/v1/conversations", headers=channel["headers"])).json()["items"][0]
    fake_guestbook.revoke_key()
    await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "ответ"}, headers=channel["headers"])
    await ctx.settle()
    shown = (await client.get(f"/api/v1/channels/{channel['id']}", headers=channel["headers"])).json()
    assert shown["health"] == "needs_action" and "API key" in shown["health_reason"]
    messages = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=channel["headers"])).json()["items"]
    assert messages[-1]["status"] == "failed"

    fake_guestbook.restore_key()
    await client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "ответ ещё раз"}, headers=channel["headers"])
    await ctx.settle()
    assert [r["text"] for r in fake_guestbook.replies] == ["ответ ещё раз"]
    assert (await client.get(f"/api/v1/channels/{channel['id']}", headers=channel["headers"])).json()["health"] == "ok"
    assert [e["health"] for e in await _health_events(ctx)] == ["needs_action", "ok"]


async def test_a_disabled_polling_channel_is_not_polled(channel, fake_guestbook, client, ctx) -> None:
    fake_guestbook.add_entry("anna_k", "вопрос")
    assert (await client.post(f"/api/v1/channels/{channel['id']}/disable", headers=channel["headers"])).json()["is_active"] is False
    assert await ctx.polls.drain_once() == 0 and fake_guestbook.polls == 0
    assert (await client.post(f"/api/v1/channels/{channel['id']}/enable", headers=channel["headers"])).json()["is_active"] is True
    assert await ctx.polls.drain_once() == 1 and fake_guestbook.polls == 1


async def test_the_plugins_own_route_is_mounted_and_sees_only_the_runtime(channel, client) -> None:
    echoed = await client.get(f"/channels/guestbook/{channel['id']}/echo", params={"challenge": "abc"})
    assert echoed.status_code == 200 and echoed.json() == {"challenge": "abc", "channel": "Гостевая"}
    assert (await client.get("/channels/guestbook/999/echo", params={"challenge": "abc"})).status_code == 404


async def test_channels_created_before_their_kind_polled_get_a_cursor_row(channel, ctx) -> None:
    async with ctx.db.transaction() as session:
        await session.execute(ChannelPollState.__table__.delete())
        assert await session.get(Channel, channel["id"]) is not None
    ctx.polls._states_checked = False  # noqa: SLF001  (a fresh worker process)
    assert await ctx.polls.drain_once() == 1
    assert (await _state(ctx, channel["id"])).last_success_at is not None


async def test_a_channel_whose_plugin_was_removed_is_listed_refused_and_not_polled_in_a_loop(channel, guestbook_kind, client, ctx) -> None:  # noqa: ANN001, F811
    from okno.channels import registry

    registry.ADAPTERS.pop("guestbook")
    ctx.channels.invalidate()
    listed = await client.get("/api/v1/channels", headers=channel["headers"])
    assert listed.status_code == 200 and listed.json()["items"][0]["kind"] == "guestbook" and listed.json()["items"][0]["config"] == {}
    assert await ctx.polls.drain_once() == 1  # claimed, found unpollable, put off
    assert await ctx.polls.drain_once() == 0  # not again at once: no busy loop
    assert (await _state(ctx, channel["id"])).next_poll_at > utcnow() + timedelta(seconds=30)
    refused = await client.post(f"/webhooks/{channel['id']}", content=b"{}")
    assert refused.status_code == 404


async def test_a_polled_entry_with_an_integer_okno_cannot_store_is_kept_failed_and_the_poll_goes_on(channel, fake_guestbook, ctx, monkeypatch) -> None:  # noqa: ANN001
    fake_guestbook.add_entry("anna_k", "первое")
    fake_guestbook.add_entry("boris", "второе")
    adapter_class = type((await ctx.channels.get(channel["id"])).adapter)
    plain = adapter_class._message  # noqa: SLF001

    def with_a_wide_order_number(self, entry):  # noqa: ANN001, ANN202  (a plugin keeping its provider's extras as given)
        message = plain(self, entry)
        return message.model_copy(update={"context": {"order": 2**70}}) if entry.id == 1 else message

    monkeypatch.setattr(adapter_class, "_message", with_a_wide_order_number)
    assert await ctx.polls.drain_once() == 1
    await ctx.settle()

    state = await _state(ctx, channel["id"])
    assert state.cursor == {"last_id": 2} and state.failures == 0 and state.last_error is None  # the poll went on
    async with ctx.db.reading() as session:
        items = {row.provider_id: row for row in (await session.scalars(select(InboundItem))).all()}
    assert items["entry:1"].status == "failed" and items["entry:1"].error.startswith("context.order: an integer outside the signed 64-bit range")
    assert items["entry:2"].status == "done"
    assert await _count(ctx, select(func.count()).select_from(Message)) == 1
