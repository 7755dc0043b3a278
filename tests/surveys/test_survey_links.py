"""E-mail surveys: one link per score that needs no login (okno.surveys.links). The survey mail
carries the links in its text and HTML parts; a click records the score on the public page (in
the customer's language) and offers the comment box; a second click, a forged or an expired
token are refused with a clear 4xx; the page is rate-limited; the conversation is never reopened."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from okno.channels.adapters.email.fake import FakeMail
from okno.kit.buckets import Buckets
from okno.kit.time import utcnow
from okno.models import Conversation, Message, OutboxEvent
from okno.models.surveys import SurveyRequest
from okno.surveys import policy as survey_policy
from okno.surveys.link_tokens import token_for
from okno.web import survey_links
from tests.factories import admin_headers

PUBLIC = "https://help.shop.example"
QUESTION = {"ru": "Оцените, пожалуйста, нашу помощь", "en": "Please rate our help"}
FOLLOW_UP = {"ru": "Что нам улучшить?", "en": "What could we do better?"}
LINK = re.compile(re.escape(PUBLIC) + r"/s/([A-Za-z0-9._=-]+)/(\d+)")


@pytest.fixture
def fake():  # noqa: ANN201
    mail = FakeMail()
    yield mail
    mail.close()


@pytest.fixture(autouse=True)
def _public_url(monkeypatch, ctx) -> None:  # noqa: ANN001
    monkeypatch.setattr(survey_policy, "_current", replace(survey_policy.policy(), public_url=PUBLIC))


async def _messages(ctx) -> list[Message]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def _until(ctx, predicate, timeout: float = 10.0) -> None:  # noqa: ANN001
    started = time.monotonic()
    while True:
        await ctx.settle()
        if predicate(await _messages(ctx)):
            return
        assert time.monotonic() - started < timeout, [(m.direction, m.status, m.text[:40]) for m in await _messages(ctx)]
        await asyncio.sleep(0.02)


async def _surveyed_by_mail(client, ctx, fake) -> tuple[dict, int, object]:  # noqa: ANN001
    """A customer writes in Russian by e-mail, is answered, resolved, and gets the CSAT mail."""
    headers = await admin_headers(ctx, client)
    channel = await client.post("/api/v1/channels", json={"kind": "email", "name": "Почта", "config": fake.channel_config()}, headers=headers)
    assert channel.status_code == 201, channel.text
    survey = await client.post("/api/v1/surveys", json={
        "kind": "csat", "name": "CSAT", "trigger": "resolved", "delay_minutes": 0, "question": QUESTION, "follow_up": FOLLOW_UP,
    }, headers=headers)  # fmt: skip
    assert survey.status_code == 201, survey.text
    fake.append(fake.compose("anna@mail.example", "Где мой заказ?", name="Анна"))
    await _until(ctx, lambda ms: len(ms) == 1)
    conversation_id = (await _messages(ctx))[0].conversation_id
    resolved = await client.post(f"/api/v1/conversations/{conversation_id}/status", json={"status": "resolved", "reason": "delivery"}, headers=headers)
    assert resolved.status_code == 200, resolved.text
    await _until(ctx, lambda ms: any(m.direction == "out" and m.status == "sent" for m in ms))
    [mail] = fake.sent_messages()
    return headers, conversation_id, mail


async def test_an_e_mail_survey_is_answered_by_its_links_without_a_login(client, ctx, fake) -> None:  # noqa: ANN001
    headers, conversation_id, mail = await _surveyed_by_mail(client, ctx, fake)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    links = LINK.findall(text)
    assert [int(score) for _, score in links] == [1, 2, 3, 4, 5] and len({token for token, _ in links}) == 1
    assert "Выберите оценку по ссылке" in text and QUESTION["ru"] in text
    for token, score in links:
        assert f'<a href="{PUBLIC}/s/{token}/{score}">' in html
    token = links[0][0]

    client.cookies.clear()  # the customer: no operator session, no token
    page = await client.get(f"/s/{token}/5")
    assert page.status_code == 200, page.text
    assert "Ваша оценка: 5" in page.text and FOLLOW_UP["ru"] in page.text and f'action="/s/{token}/comment"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"

    again = await client.get(f"/s/{token}/4")  # single use per survey: the first score stands
    assert again.status_code == 409 and "уже получена" in again.text
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert (await client.get(f"/s/{forged}/5")).status_code == 404
    assert (await client.get(f"/s/{token}/9")).status_code == 404  # outside the 1–5 scale
    other = token.split(".")
    assert (await client.get(f"/s/{int(other[0]) + 1}.{other[1]}.{other[2]}/5")).status_code == 404  # another survey's id, same signature

    commented = await client.post(f"/s/{token}/comment", data={"comment": "Курьер опоздал, но всё хорошо"})
    assert commented.status_code == 200 and "Спасибо за отзыв" in commented.text
    assert (await client.post(f"/s/{token}/comment", data={"comment": "ещё раз"})).status_code == 409
    await ctx.settle()

    async with ctx.db.reading() as session:
        request = await session.scalar(select(SurveyRequest))
        answered = [e.payload for e in (await session.scalars(select(OutboxEvent).where(OutboxEvent.topic == "survey.answered"))).all()]
        conversation = await session.get(Conversation, conversation_id)
        conversations = (await session.scalars(select(Conversation.id))).all()
    assert request.state == "answered" and request.score == 5 and request.comment_message_id is not None
    assert [(a["score"], a["comment"]) for a in answered] == [(5, "Курьер опоздал, но всё хорошо")]
    assert conversation.status == "resolved" and conversations == [conversation_id]  # never reopened, nothing new
    by_role = {m.content["survey"]["role"]: m for m in await _messages(ctx) if m.content and m.content.get("survey", {}).get("via") == "link"}
    assert by_role["score"].kind == "answer" and by_role["score"].conversation_id == conversation_id
    assert by_role["comment"].text == "Курьер опоздал, но всё хорошо"

    day = utcnow() - timedelta(days=1)
    summary = await client.get("/api/v1/reports/summary", params={"from": day.isoformat(), "to": (day + timedelta(days=2)).isoformat()}, headers=headers)
    assert summary.json()["csat"] == {"responses": 1, "score": 100.0}

    expired = token_for(request.id, utcnow() - timedelta(minutes=1))
    gone = await client.get(f"/s/{expired}/5")
    assert gone.status_code == 410 and "истёк" in gone.text


async def test_the_link_page_is_rate_limited(client, ctx, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(survey_links, "_limits", Buckets(2))
    codes = [(await client.get("/s/1.1.forged/5")).status_code for _ in range(3)]
    assert codes == [404, 404, 429]
    limited = await client.get("/s/1.1.forged/5")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


async def test_without_a_public_address_the_mail_spells_out_the_scale(client, ctx, fake, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(survey_policy, "_current", replace(survey_policy.policy(), public_url=""))
    _, _, mail = await _surveyed_by_mail(client, ctx, fake)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "/s/" not in text and "Ответьте цифрой от 1 до 5." in text
