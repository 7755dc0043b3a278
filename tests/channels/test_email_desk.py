"""The e-mail channel at the desk: an operator answering from his own mail client, the limit on
automatic replies per sender, signatures, and the IMAP session kept across polls. Against the
fake mail server (real IMAP and SMTP sockets on loopback)."""

from __future__ import annotations

from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from okno.channels.adapters.email.adapter import sessions
from okno.channels.adapters.email.fake import compose_mail
from okno.models import Customer, Identity
from tests.channels.mail_servers import needs_dovecot
from tests.factories import admin_headers, login, make_operator
from tests.channels.email_steps import make_email_channel, make_poll_due, messages_in_order, until_messages


pytestmark = pytest.mark.usefixtures("no_email_watchers_left")

_channel = make_email_channel
_messages = messages_in_order


async def _count(ctx, model) -> int:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(model))


# ---- an operator's own mail client --------------------------------------------------------------


async def test_an_operator_s_answer_from_his_own_mail_client_is_his_message_in_the_thread(client, ctx, fake) -> None:
    ivan = await make_operator(ctx, email="ivan@okno.local", name="Иван Петров")
    channel = await _channel(client, ctx, fake.channel_config())
    fake.append(fake.compose("anna@mail.example", "Где мой заказ?", subject="Заказ 1042", message_id="<root-7@mail.example>"))
    await until_messages(ctx, lambda ms: len(ms) == 1)
    [question] = await _messages(ctx)

    # Ivan answers Anna from Outlook, the support mailbox in Cc: the copy lands in the mailbox
    outlook = fake.compose("ivan@okno.local", "Заказ уже у курьера.\n\n-----Original Message-----\nFrom: anna@mail.example\nГде мой заказ?",
                           subject="RE: Заказ 1042", name="Иван Петров", in_reply_to="root-7@mail.example",
                           references=["root-7@mail.example"], message_id="<outlook-1@okno.local>",
                           headers={"Cc": "support@shop.example"})
    fake.append(outlook.replace(b"To: support@shop.example", b"To: anna@mail.example"))
    await until_messages(ctx, lambda ms: len(ms) == 2)
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
    await make_poll_due(ctx, channel["id"])
    await until_messages(ctx, lambda ms: len(ms) == 3)
    assert (await _messages(ctx))[-1].conversation_id == question.conversation_id


def _forward_as_attachment(sender: str, note: str, attached: bytes) -> bytes:
    """A mail client's "Forward as attachment" of ``attached`` to the support mailbox."""
    forward = EmailMessage()
    forward["From"] = sender
    forward["To"] = "support@shop.example"
    forward["Subject"] = "FW: Заказ 1042"
    forward.set_content(note)
    forward.add_attachment(message_from_bytes(attached, policy=email_policy.default))
    return forward.as_bytes()


async def test_an_operator_s_answer_forwarded_as_an_attachment_is_his_message_in_the_thread(client, ctx, fake) -> None:
    ivan = await make_operator(ctx, email="ivan@okno.local", name="Иван Петров")
    await _channel(client, ctx, fake.channel_config())
    fake.append(fake.compose("anna@mail.example", "Где мой заказ?", subject="Заказ 1042", message_id="<root-9@mail.example>"))
    await until_messages(ctx, lambda ms: len(ms) == 1)
    [question] = await _messages(ctx)

    # Ivan answered Anna from his own client without Cc, then forwards his sent answer to the
    # support mailbox "as attachment": the outer mail is his note, the attachment his answer
    answer = fake.compose("ivan@okno.local", "Заказ уже у курьера, привезут завтра.", subject="RE: Заказ 1042", name="Иван Петров",
                          in_reply_to="root-9@mail.example", references=["root-9@mail.example"], message_id="<sent-3@okno.local>")
    fake.append(_forward_as_attachment("Иван Петров <ivan@okno.local>", "Для истории: ответил клиентке из почты.", answer))
    await until_messages(ctx, lambda ms: len(ms) == 2)
    filed = (await _messages(ctx))[-1]
    assert (filed.conversation_id, filed.direction, filed.author_id) == (question.conversation_id, "out", ivan["id"])
    assert filed.text == "Заказ уже у курьера, привезут завтра." and filed.provider_message_id == "sent-3@okno.local"
    assert await _count(ctx, Customer) == 1 and fake.sent == []

    # the same forward from a customer is her message with the attachment, not a copy of anything
    fake.append(_forward_as_attachment("boris@mail.example", "Посмотрите, что мне прислали", answer))
    await until_messages(ctx, lambda ms: len(ms) == 3)
    last = (await _messages(ctx))[-1]
    assert last.direction == "in" and last.conversation_id != question.conversation_id and "Посмотрите" in last.text


async def test_an_operator_s_mail_that_names_no_known_thread_is_filed_nowhere(client, ctx, fake) -> None:
    await make_operator(ctx, email="maria@okno.local")
    await _channel(client, ctx, fake.channel_config())
    fake.append(fake.compose("maria@okno.local", "Тестовое письмо самой себе", subject="Тест"))
    fake.append(fake.compose("boris@mail.example", "Вопрос", subject="Вопрос"))
    await until_messages(ctx, lambda ms: len(ms) == 1)
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
    await until_messages(ctx, lambda ms: sum(m.direction == "in" for m in ms) == 5)
    await until_messages(ctx, lambda ms: sum(m.direction == "out" and m.status == "sent" for m in ms) == 3)
    await ctx.settle()
    assert sorted(s["to"] for s in fake.sent) == ["anna@mail.example", "robot@mail.example", "robot@mail.example"]
    timeline = (await client.get("/api/v1/customers/" + str((await _messages(ctx))[0].customer_id) + "/timeline",
                                 headers=headers)).json()["items"]
    refused = [e for e in timeline if e["kind"] == "automation.failed"]
    assert len(refused) == 2 and all("the limit is 2" in e["data"]["error"] for e in refused), refused


# ---- signatures ---------------------------------------------------------------------------------


async def test_replies_by_e_mail_carry_the_author_s_and_the_team_s_signature(client, ctx, fake) -> None:
    admin = await admin_headers(ctx, client)
    team = (await client.post("/api/v1/teams", json={"name": "Поддержка"}, headers=admin)).json()
    created = await client.post("/api/v1/channels", json={"kind": "email", "name": "Почта", "config": fake.channel_config(), "team_id": team["id"]},
                                headers=admin)
    assert created.status_code == 201, created.text
    signed = await client.patch(f"/api/v1/teams/{team['id']}", json={"signature": "Служба поддержки «Окошко»\n8 800 000-00-00"}, headers=admin)
    assert signed.status_code == 200 and signed.json()["signature"] == "Служба поддержки «Окошко»\n8 800 000-00-00"
    ivan = await make_operator(ctx, email="ivan@okno.local", name="Иван Петров")
    ivan_headers = {"Authorization": "Bearer " + (await client.post("/api/v1/auth/login", json={"email": ivan["email"], "password": ivan["password"]})).json()["access_token"]}
    me = await client.patch("/api/v1/auth/me", json={"signature": "  Иван Петров, старший специалист  "}, headers=ivan_headers)
    assert me.status_code == 200 and me.json()["signature"] == "Иван Петров, старший специалист"
    await client.post(f"/api/v1/teams/{team['id']}/members", json={"operator_id": ivan["id"]}, headers=admin)

    fake.append(fake.compose("anna@mail.example", "Где мой заказ?", subject="Заказ"))
    await until_messages(ctx, lambda ms: len(ms) == 1)
    [question] = await _messages(ctx)
    await until_messages(ctx, lambda ms: True)  # routed to the channel's team
    reply = await client.post(f"/api/v1/conversations/{question.conversation_id}/messages", json={"text": "Заказ в пути."}, headers=ivan_headers)
    assert reply.status_code == 201, reply.text
    await until_messages(ctx, lambda ms: any(m.direction == "out" and m.status == "sent" for m in ms))
    [sent] = fake.sent_messages()
    assert sent.get_body(preferencelist=("plain",)).get_content().strip().splitlines() == [
        "Заказ в пути.", "", "-- ", "Иван Петров, старший специалист", "", "Служба поддержки «Окошко»", "8 800 000-00-00",
    ]
    html = sent.get_body(preferencelist=("html",)).get_content()
    assert '<div class="signature"' in html and "Иван Петров, старший специалист<br><br>Служба поддержки «Окошко»<br>8 800 000-00-00" in html
    stored = (await _messages(ctx))[-1]
    assert stored.text == "Заказ в пути."  # the conversation shows what the operator wrote; the signature is the mail's

    cleared = await client.patch("/api/v1/auth/me", json={"signature": ""}, headers=ivan_headers)
    assert cleared.json()["signature"] is None


async def test_the_team_signature_is_edited_in_the_admin_page_s_team_table(client, ctx) -> None:
    admin = await make_operator(ctx, role="admin")
    headers = await login(client, email=admin["email"])
    team = (await client.post("/api/v1/teams", json={"name": "Продажи"}, headers=headers)).json()
    await client.patch(f"/api/v1/teams/{team['id']}", json={"signature": "Отдел продаж"}, headers=headers)
    signed_in = await client.post("/ui/session", json={"email": admin["email"], "password": admin["password"]})
    assert signed_in.status_code == 200
    page = await client.get("/admin/teams")
    assert page.status_code == 200, page.status_code
    assert 'data-team-field="signature"' in page.text and ">Отдел продаж</textarea>" in page.text


# ---- one IMAP login per channel, not per poll ----------------------------------------------------------


async def test_polls_reuse_the_channel_s_imap_login(client, ctx, fake) -> None:
    channel = await _channel(client, ctx, fake.channel_config())
    fake.append(fake.compose("anna@mail.example", "Первое"))
    await until_messages(ctx, lambda ms: len(ms) == 1)
    session = sessions.of(channel["id"])
    logins = fake.imap.logins  # the connection test's, the poll's, the IDLE watcher's
    for n in range(3):
        fake.append(fake.compose("anna@mail.example", f"Ещё {n}", subject=f"Тема {n}"))
        await make_poll_due(ctx, channel["id"])
        await until_messages(ctx, lambda ms, n=n: len(ms) == n + 2)
    assert session.logins == 1 and fake.imap.logins == logins  # three more polls, no new LOGIN


@needs_dovecot
async def test_a_kept_session_that_broke_logs_in_again_within_the_poll(client, ctx, dovecot, fake, monkeypatch) -> None:
    failed: list[str] = []
    record_failure = ctx.polls._record_failure

    async def counted(channel, claim, failure):  # noqa: ANN001, ANN202
        failed.append(failure.reason)
        await record_failure(channel, claim, failure)

    monkeypatch.setattr(ctx.polls, "_record_failure", counted)
    channel = await _channel(client, ctx, dovecot.channel_config(fake.smtp_port))
    dovecot.append(compose_mail("support@shop.example", "anna@mail.example", "До перезапуска"))
    await until_messages(ctx, lambda ms: len(ms) == 1)
    session = sessions.of(channel["id"])
    assert session.logins == 1
    dovecot.stop()  # SIGKILL: the kept connection is dead now
    dovecot.start()
    dovecot.append(compose_mail("support@shop.example", "anna@mail.example", "После перезапуска", subject="Снова"))
    await make_poll_due(ctx, channel["id"])
    await until_messages(ctx, lambda ms: [m.text for m in ms] == ["До перезапуска", "После перезапуска"], timeout=15.0)
    assert session.logins == 2 and failed == []  # the poll that found the connection dead logged in again and succeeded
