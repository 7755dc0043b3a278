"""The operator's conversation view shows an e-mail's new text, its subject and, behind toggles,
the quoted history and the formatted original (inline images pointing at the message's files);
other channels' messages render as before."""

from __future__ import annotations

import html as html_lib

from sqlalchemy import select

from okno.models import Conversation, Message
from okno.web.email_view import email_parts, with_inline_images
from tests.channels.email_text.seeding import QUOTED, seed_email
from tests.factories import PASSWORD, admin_headers, make_api_channel, make_operator, post_inbound

WEB = {"X-Okno-Client": "web"}


async def _fragment(ctx, client, conversation_id: int) -> str:  # noqa: ANN001
    response = await client.get(f"/ui/conversations/{conversation_id}")
    assert response.status_code == 200, response.text
    return response.text


async def test_an_email_shows_new_text_subject_and_toggles(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    message_id = await seed_email(ctx, client, channel)
    await post_inbound(client, channel, {"message_id": "chat-1", "from": {"phone": "+79160001234"}, "text": "Просто чат"})
    await ctx.settle()
    operator = await make_operator(ctx)
    assert (await client.post("/ui/session", json={"email": operator["email"], "password": PASSWORD})).status_code == 200
    async with ctx.db.reading() as session:
        mail_conversation = await session.scalar(select(Message.conversation_id).where(Message.id == message_id))
        chat = await session.scalar(select(Message).where(Message.provider_message_id == "chat-1"))

    page = await _fragment(ctx, client, mail_conversation)
    assert f'data-testid="subject-{message_id}">Re: Payment not received<' in page
    assert f'data-testid="email-text-{message_id}">The order number is 58213.<' in page
    assert f'data-testid="email-quoted-{message_id}"' in page and "Показать цитату" in page and "Скрыть цитату" in page
    quoted = page.split(f'data-testid="email-quoted-text-{message_id}">')[1].split("</div>")[0]
    assert html_lib.unescape(quoted) == QUOTED
    # the formatted original: sanitised, behind its own toggle, the inline image on the message's own file
    formatted = page.split(f'data-testid="email-html-{message_id}"')[1].split("</details>")[0]
    srcdoc = html_lib.unescape(formatted.split('srcdoc="')[1].split('"></iframe>')[0])
    assert f'src="/api/v1/messages/{message_id}/attachments/0"' in srcdoc and "cid:" not in srcdoc
    assert "<script" not in srcdoc and "__pwned" not in srcdoc
    assert "<b>58213</b>" in srcdoc
    assert "invoice.pdf" in page

    # English labels after a language switch
    assert (await client.post("/ui/preferences/language", json={"locale": "en"}, headers=WEB)).status_code == 200
    page = await _fragment(ctx, client, mail_conversation)
    assert "Show quoted text" in page and "Show the formatted e-mail" in page

    # a chat message elsewhere: no e-mail blocks
    chat_page = await _fragment(ctx, client, chat.conversation_id)
    assert "email-quoted" not in chat_page and "email-text" not in chat_page
    assert f'data-testid="message-{chat.id}"' in chat_page and "Просто чат" in chat_page


async def test_no_query_without_email_messages(ctx) -> None:
    chat = Message(id=1, conversation_id=1, customer_id=1, direction="in", text="hi", subject=None, html=None, attachments=[])
    assert await email_parts(None, 1, [chat], {}) == {}  # type: ignore[arg-type]  # would fail on any query


async def test_quoted_text_carried_in_content_is_shown_too(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    channel = await make_api_channel(client, headers)
    message_id = await seed_email(ctx, client, channel)
    async with ctx.db.transaction() as session:
        message = await session.get(Message, message_id)
        message.content = {"email": {"quoted": "> from content"}}
    async with ctx.db.reading() as session:
        message = await session.get(Message, message_id)
        conversation = await session.get(Conversation, message.conversation_id)
        shown = await email_parts(session, conversation.customer_id, [message], {})
    assert shown[message_id].quoted == "> from content"


def test_inline_images_only_rewrite_known_content_ids() -> None:
    html = '<img src="cid:a@x"><img src="cid:unknown@x"><img src="https://t.example/p.gif">'
    rewritten = with_inline_images(html, [{"name": "a.png", "content_id": "<a@x>"}, "junk"], 7)
    assert rewritten == '<img src="/api/v1/messages/7/attachments/0"><img src="cid:unknown@x"><img src="https://t.example/p.gif">'
