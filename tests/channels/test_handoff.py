"""The webhook hand-off (okno.channels.handoff): a serving process's verified items stored by the
worker's group commit over the worker's Unix socket. Here both ends live in the test's process
(the app's intake replaced by the link, the listener in front of the real intake), so every
request crosses the real socket and wire format; tests/test_ingest_handoff_process.py runs
``okno serve`` and ``okno worker`` as processes."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from okno.channels.base import InboundMessage, SenderIdentity
from okno.channels.handoff import IntakeLink, IntakeListener, IntakeUnavailable
from okno.models import InboundItem, Message
from okno.channels.adapters.api.signing import sign
from tests.factories import admin_headers, make_api_channel, post_inbound, signed


@pytest.fixture
def sock(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("h") / "ingest.sock"  # short: a Unix socket's path is at most ~107 bytes


@pytest.fixture
async def handed_off(ctx, sock):  # noqa: ANN001, ANN201
    """The app's webhooks go through a link to a listener in front of the app's own intake."""
    intake = ctx.intake
    listener = IntakeListener(intake, sock)
    await listener.start()
    ctx.intake = IntakeLink(sock)
    yield listener
    await ctx.intake.close()
    ctx.intake = intake
    await listener.stop()
    await listener.close_connections()


@pytest.fixture
async def channel_id(client, ctx) -> int:  # noqa: ANN001
    return (await make_api_channel(client, await admin_headers(ctx, client)))["id"]


async def _counts(ctx) -> tuple[int, int]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return (await session.scalar(select(func.count()).select_from(InboundItem)),
                await session.scalar(select(func.count()).select_from(Message)))  # fmt: skip


async def test_webhooks_handed_to_the_worker_are_stored_processed_and_counted(client, ctx, handed_off) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    payloads = [{"message_id": f"m{i % 30}", "from": {"phone": f"+7916000{i % 7:04d}"}, "text": f"текст {i % 30} «ок»"} for i in range(60)]
    responses = await asyncio.gather(*(post_inbound(client, channel, p) for p in payloads))
    assert [r.status_code for r in responses] == [200] * 60
    assert sum(r.json()["accepted"] for r in responses) == 30 and sum(r.json()["duplicates"] for r in responses) == 30
    async with ctx.db.reading() as session:
        texts = sorted((await session.scalars(select(Message.text))).all())
        statuses = set((await session.scalars(select(InboundItem.status))).all())
        raws = set((await session.scalars(select(InboundItem.raw))).all())
    assert texts == sorted(f"текст {i} «ок»" for i in range(30))  # processed in the worker's group commit
    assert statuses == {"done"}
    assert any("«ок»" in raw for raw in raws)  # the body as the provider sent it


async def test_forged_and_truncated_webhooks_are_refused_before_the_hand_off(client, ctx, handed_off) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    body, signature = signed("not-the-channel-secret-at-all", {"message_id": "f1", "from": {"phone": "+79160000009"}, "text": "подделка"})
    forged = await client.post(f"/webhooks/{channel['id']}", content=body, headers=signature)
    body, signature = signed(channel["secret"], {"message_id": "t1", "from": {"phone": "+79160000009"}, "text": "обрезано"})
    cut = body[: len(body) // 2]
    truncated = await client.post(f"/webhooks/{channel['id']}", content=cut, headers={**signature, "x-okno-signature": sign(channel["secret"], cut)})
    assert forged.status_code == 401 and truncated.status_code in (400, 422), (forged.text, truncated.text)
    assert truncated.json()["detail"]
    assert await _counts(ctx) == (0, 0)  # nothing reached the worker's intake


async def test_refused_items_cross_the_socket_and_are_kept_as_failed(ctx, sock, channel_id) -> None:  # noqa: ANN001
    listener = IntakeListener(ctx.intake, sock)
    await listener.start()
    link = IntakeLink(sock)
    try:
        good = InboundMessage(provider_id="ok-1", sender=[SenderIdentity(kind="phone", value="+79160000001")], text="дошло")
        bad = InboundMessage(provider_id="bad-1", sender=[], text="без отправителя")
        accepted = await link.submit(channel_id, [good], b'{"batch": 2}', [(bad, "no usable sender identity: none given")])
    finally:
        await link.close()
        await listener.stop()
        await listener.close_connections()
    assert (accepted.stored, accepted.duplicates) == (1, 0)  # the refused one is stored, not counted
    async with ctx.db.reading() as session:
        rows = {r.provider_id: (r.status, r.error) for r in (await session.scalars(select(InboundItem))).all()}
    assert rows == {"ok-1": ("done", None), "bad-1": ("failed", "no usable sender identity: none given")}


async def test_without_a_worker_the_webhook_answers_503_and_stores_nothing(client, ctx, sock) -> None:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    own = ctx.intake
    ctx.intake = IntakeLink(sock)  # nothing listens there
    try:
        response = await post_inbound(client, channel, {"message_id": "lost?", "from": {"phone": "+79160000002"}, "text": "повторите"})
    finally:
        await ctx.intake.close()
        ctx.intake = own
    assert response.status_code == 503 and "retry" in response.json()["detail"]
    assert await _counts(ctx) == (0, 0)


async def test_the_link_reconnects_when_the_worker_is_back_and_a_redelivery_is_stored_once(ctx, sock, channel_id) -> None:  # noqa: ANN001
    item = InboundMessage(provider_id="r-1", sender=[SenderIdentity(kind="phone", value="+79160000003")], text="снова")
    link = IntakeLink(sock)
    with pytest.raises(IntakeUnavailable, match="not reachable"):
        await link.submit(channel_id, [item], b"{}")

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # a worker that dies with the request in hand
        writer.close()

    dying = await asyncio.start_unix_server(hang_up, str(sock))
    with pytest.raises(IntakeUnavailable, match="closed the connection"):
        await link.submit(channel_id, [item], b"{}")
    dying.close()
    await dying.wait_closed()

    listener = IntakeListener(ctx.intake, sock)  # replaces the dead one's socket file
    await listener.start()
    try:
        first = await link.submit(channel_id, [item], b"{}")
        again = await link.submit(channel_id, [item], b"{}")  # the provider's retry of an accepted item
    finally:
        await link.close()
        await listener.stop()
        await listener.close_connections()
    assert (first.stored, first.duplicates, again.stored, again.duplicates) == (1, 0, 0, 1)
    assert await _counts(ctx) == (1, 1)


async def test_a_worker_that_does_not_answer_in_time_gives_503_not_a_hang(sock) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads everything, answers nothing

    server = await asyncio.start_unix_server(silent, str(sock))
    link = IntakeLink(sock, timeout=0.2)
    try:
        with pytest.raises(IntakeUnavailable, match="did not answer within 0.2 s"):
            await link.submit(1, [InboundMessage(provider_id="t", sender=[SenderIdentity(kind="phone", value="+79160000004")], text="?")], b"{}")
    finally:
        await link.close()
        server.close()
        await server.wait_closed()


async def test_the_socket_is_owner_only_and_a_bad_frame_closes_only_its_connection(ctx, sock, channel_id) -> None:  # noqa: ANN001
    listener = IntakeListener(ctx.intake, sock)
    await listener.start()
    link = IntakeLink(sock)
    try:
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        reader, writer = await asyncio.open_unix_connection(str(sock))
        writer.write(b"\x00\x00\x00\x05\x00\x00\x00\x00{nope")  # a head that is not a request
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, nothing answered
        item = InboundMessage(provider_id="after", sender=[SenderIdentity(kind="phone", value="+79160000005")], text="всё ещё работает")
        assert (await link.submit(channel_id, [item], b"{}")).stored == 1
        assert await _counts(ctx) == (1, 1)
    finally:
        await link.close()
        await listener.stop()
        await listener.close_connections()
    assert not sock.exists()  # a stopped worker leaves no socket behind


async def test_the_serving_processs_wakes_reach_the_workers_queues(ctx, sock) -> None:  # noqa: ANN001
    woken: list[list[str]] = []
    listener = IntakeListener(ctx.intake, sock, wake=woken.append)
    await listener.start()
    link = IntakeLink(sock)
    try:
        link.forward_wakes(["delivery"])  # not connected yet: it connects to send them
        await _until(lambda: woken == [["delivery"]])
        link.forward_wakes(["relay"])
        link.forward_wakes(["delivery", "relay"])  # one loop turn's wakes, one frame
        await _until(lambda: len(woken) == 2)
        assert woken == [["delivery"], ["delivery", "relay"]]
    finally:
        await link.close()
        await listener.stop()
        await listener.close_connections()
    IntakeLink(tmp := sock.with_name("nobody.sock")).forward_wakes(["delivery"])  # nobody listens: nothing raised
    await asyncio.sleep(0.05)
    assert not tmp.exists()


async def _until(condition, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not in time"
        await asyncio.sleep(0.01)
