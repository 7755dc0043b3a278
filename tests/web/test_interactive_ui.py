"""The conversation shows the choices an operator offered and the customer's answer, in Russian and English."""

from __future__ import annotations

from sqlalchemy import select

from okno.models import Conversation
from tests.factories import PASSWORD, admin_headers, make_api_channel, make_operator, post_inbound

WEB = {"X-Okno-Client": "web"}


async def test_offered_choices_and_the_answer_show_in_both_languages(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    await post_inbound(client, channel, {"message_id": "q1", "from": {"phone": "+79160007777", "name": "Анна"}, "text": "Здравствуйте"})
    await ctx.settle()
    async with ctx.db.reading() as session:
        conversation_id = await session.scalar(select(Conversation.id))
    choices = {"style": "buttons", "options": [{"id": "yes", "title": "Да"}, {"id": "no", "title": "Нет"}]}
    sent = await client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Заказ получен?", "interactive": choices}, headers=headers)
    assert sent.status_code == 201, sent.text
    await ctx.settle()
    await post_inbound(client, channel, {"message_id": "q2", "from": {"phone": "+79160007777"}, "text": "1"})
    await ctx.settle()

    operator = await make_operator(ctx)
    assert (await client.post("/ui/session", json={"email": operator["email"], "password": PASSWORD})).status_code == 200
    html = (await client.get(f"/ui/conversations/{conversation_id}")).text
    prompt_id = sent.json()["id"]
    assert f'data-testid="choices-{prompt_id}" data-rendering="text"' in html
    assert '<li data-option="yes">Да</li>' in html and '<li data-option="no">Нет</li>' in html
    assert "Отправлено пронумерованным текстом" in html
    assert 'data-option="yes">Ответ: Да</div>' in html

    assert (await client.post("/ui/preferences/language", json={"locale": "en"}, headers=WEB)).status_code == 200
    english = (await client.get(f"/ui/conversations/{conversation_id}")).text
    assert 'data-option="yes">Answer: Да</div>' in english and "Sent as numbered text" in english
