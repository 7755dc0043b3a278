"""The e-mail channel at the desk: an operator answering from his own mail client, the limit on
automatic replies per sender, signatures, and the IMAP session kept across polls. Against the
fake mail server (real IMAP and SMTP sockets on loopback)."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select, update

from okno.channels.adapters.email.adapter import sessions, watchers
from okno.channels.adapters.email.fake import FakeMail
from okno.models import ChannelPollState, Customer, Identity, Message
from okno.kit.time import utcnow
from tests.factories import admin_headers, make_operator


@pytest.fixture(autouse=True)
def _no_watchers_left():  # noqa: ANN202
    yield
    watchers.stop_all()


@pytest.fixture
def fake():  # noqa: ANN201
    mail = FakeMail()
    yield mail
    mail.close()


async def _channel(client, ctx, config: dict) -> dict:  # noqa: ANN001
    headers = await admin_headers(ctx, client)
    created = await client.post("/api/v1/channels", json={"kind": "email", "name": "Почта", "config": config}, headers=headers)
    assert created.status_code == 201, created.text
    return {**created.json(), "headers": headers}


async def _messages(ctx) -> list[Message]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def _make_due(ctx, channel_id: int) -> None:  # noqa: ANN001
    async with ctx.db.transaction() as session:
        await session.execute(update(ChannelPollState).where(ChannelPollState.channel_id == channel_id).values(next_poll_at=utcnow()))


async def _until(ctx, predicate, timeout: float = 5.0) -> None:  # noqa: ANN001
    started = time.monotonic()
    while True:
        await ctx.settle()
        if predicate(await _messages(ctx)):
            return
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s: {[(m.direction, m.text) for m in await _messages(ctx)]}")
        await asyncio.sleep(0.02)


async def _count(ctx, model) -> int:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(model))


# ---- an operator's own mail client --------------------------------------------------------------


async def test_an_operator_s_answer_from_his_own_mail_client_is_his_message_in_the_thread(client, ctx, fake) -> None:
    ivan = await make_operator(ctx, email="ivan@okno.local", name="Иван Петров")
    channel = await _channel(client, ctx, fake.channel_config())
    fake.append(fake.compose("anna@mail.example", "Где мой заказ?", subject="Заказ 1042", message_id="<root-7@mail.example>"))
    await _until(ctx, lambda ms: len(ms) == 1)
    [question] = await _messages(ctx)

    # Ivan answers Anna from Outlook, the support mailbox in Cc: the copy lands in the mailbox
    outlook = fake.compose("ivan@okno.local", "Заказ уже у курьера.\n\n-----Original Message-----\nFrom: anna@mail.example\nГде мой заказ?",
                           subject="RE: Заказ 1042", name="Иван Петров", in_reply_to="root-7@mail.example",
                           references=["root-7@mail.example"], message_id="<outlook-1@okno.local>",
                           headers={"Cc": "support@shop.example"})
    fake.append(outlook.replace(b"To: support@shop.example", b"To: anna@mail.example"))
    await _until(ctx, lambda ms: len(ms) == 2)
    answer = (await _messages(ctx))[-1]
    assert (answer.conversation_id, answer.direction, answer.author_id, answer.actor_type) == (question.conversation_id, "out", ivan["id"], "operator")
    assert answer.text == "Заказ уже у курьера." and answer.status == "sent" and answer.provider_message_id == "outlook-1@okno.local"
    assert await _count(ctx, Customer) == 1  # no customer for Ivan's address, and no identity of it
    async with ctx.db.reading() as session:
        assert (await session.scalars(select(Identity.value).where(Identity.kind == "email"))).all() == ["anna@mail.example"]
    assert fake.sent == []  # it left from Outlook: okno sends nothing again

    # the API shows it as Ivan's
    shown = (await client.get(f"/api/v1/conversations/{question.conversation_id}/messages", headers=channel["headers"])).json()["items"]
    assert shown[-1]["actor"]["type"] == "operator" and shown[-1]["author_id"] == ivan["id"]

    # Anna answers Ivan's mail (only its id names the thread): the same conversation
    fake.append(fake.compose("anna@mail.example", "Спасибо!", subject="RE: Заказ 1042", in_reply_to="outlook-1@okno.local"))
    await _make_due(ctx, channel["id"])
    await _until(ctx, lambda ms: len(ms) == 3)
    assert (await _messages(ctx))[-1].conversation_id == question.conversation_id


async def test_an_operator_s_mail_that_names_no_known_thread_is_filed_nowhere(client, ctx, fake) -> None:
    await make_operator(ctx, email="maria@okno.local")
    await _channel(client, ctx, fake.channel_config())
    fake.append(fake.compose("maria@okno.local", "Тестовое письмо самой себе", subject="Тест"))
    fake.append(fake.compose("boris@mail.example", "Вопрос", subject="Вопрос"))
    await _until(ctx, lambda ms: len(ms) == 1)
    await ctx.settle()
    assert [m.text for m in await _messages(ctx)] == ["Вопрос"]
    assert await _count(ctx, Customer) == 1


# ---- automatic replies per sender -----------------------------------------------------------------


async def test_automatic_replies_to_one_sender_stop_at_the_hourly_limit_and_say_so(client, ctx, fake, monkeypatch) -> None:
    monkeypatch.setattr(ctx.settings, "auto_replies_per_sender_per_hour", 2)
    channel = await _channel(client, ctx, fake.channel_config())
    headers = channel["headers"]
    answer = (await client.post("/api/v1/canned-answers", json={"shortcut": "got", "language": "ru", "title": "Приняли",
                                                               "body": "Заявка принята."}, headers=headers)).json()
    rule = await client.post("/api/v1/automation/rules", json={"name": "Автоответ", "event": "conversation.opened",
                                                               "actions": [{"type": "send_canned_answer", "answer_id": answer["id"]}]}, headers=headers)
    assert rule.status_code == 201, rule.text
    for n in range(4):  # a robot that says nothing about being one: four new threads from one address
        fake.append(fake.compose("robot@mail.example", f"Ticket #{n} received", subject=f"Ticket {n}"))
    fake.append(fake.compose("anna@mail.example", "Живой вопрос", subject="Вопрос"))
    await _until(ctx, lambda ms: sum(m.direction == "in" for m in ms) == 5)
    await _until(ctx, lambda ms: sum(m.direction == "out" and m.status == "sent" for m in ms) == 3)
    await ctx.settle()
    assert sorted(s["to"] for s in fake.sent) == ["anna@mail.example", "robot@mail.example", "robot@mail.example"]
    timeline = (await client.get("/api/v1/customers/" + str((await _messages(ctx))[0].customer_id) + "/timeline",
                                 headers=headers)).json()["items"]
    refused = [e for e in timeline if e["kind"] == "automation.failed"]
    assert len(refused) == 2 and all("the limit is 2" in e["data"]["error"] for e in refused), refused
