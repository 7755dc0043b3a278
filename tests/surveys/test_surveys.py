"""Surveys end to end over HTTP, through the real webhooks and the fake providers: a resolved
conversation gets its survey in its own channel (Telegram: inline buttons; the API channel: the
question with its scale as text), the answer is recognised and never reopens the conversation,
``survey.answered`` carries the score; the retry, the follow-up comment, the quiet window and
erasure."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from okno.models import Conversation, Message, OutboxEvent
from okno.models.surveys import SurveyRequest
from tests.factories import admin_headers, make_operator, login

QUESTION = {"ru": "Оцените, пожалуйста, нашу помощь от 1 до 5", "en": "Please rate our help from 1 to 5"}
FOLLOW_UP = {"ru": "Что нам улучшить?", "en": "What could we do better?"}


async def _messages(ctx) -> list[Message]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def _events(ctx, topic: str) -> list[dict[str, Any]]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return [e.payload for e in (await session.scalars(select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id))).all()]


async def _requests(ctx) -> list[SurveyRequest]:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return list((await session.scalars(select(SurveyRequest).order_by(SurveyRequest.id))).all())


async def _conversation(ctx, conversation_id: int) -> Conversation:  # noqa: ANN001
    async with ctx.db.reading() as session:
        return await session.get(Conversation, conversation_id)  # type: ignore[return-value]


async def _survey(client, headers, **fields) -> dict:  # noqa: ANN001
    body = {"kind": "csat", "name": "CSAT", "trigger": "resolved", "delay_minutes": 0, "question": QUESTION, **fields}
    response = await client.post("/api/v1/surveys", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _resolve(client, ctx, headers, conversation_id: int) -> None:  # noqa: ANN001
    response = await client.post(f"/api/v1/conversations/{conversation_id}/status", json={"status": "resolved", "reason": "delivery"}, headers=headers)
    assert response.status_code == 200, response.text
    await ctx.settle()


async def _surveyed_and_resolved(client, ctx, api_channel, text: str, **survey) -> int:  # noqa: ANN001
    """A survey (``survey`` fields over the CSAT defaults), the customer's first message through
    the API channel, and its conversation resolved by the admin: the conversation's id."""
    _, channel, secret, headers = api_channel
    await _survey(client, headers, **survey)
    await _api_inbound(client, channel, secret, "in-1", text)
    await ctx.settle()
    conversation_id = (await _messages(ctx))[0].conversation_id
    await _resolve(client, ctx, headers, conversation_id)
    return conversation_id


async def _api_inbound(client, channel: dict, secret: str, message_id: str, text: str, *, who: str = "crm-42") -> None:  # noqa: ANN001
    from okno.channels.adapters.api.signing import SIGNATURE_HEADER, sign

    body = orjson.dumps({"message_id": message_id, "from": {"external_id": who, "name": "Анна"}, "text": text})
    response = await client.post(f"/webhooks/{channel['id']}", content=body, headers={"content-type": "application/json", SIGNATURE_HEADER: sign(secret, body)})
    assert response.status_code == 200, response.text


def _api_sent(receiver) -> list[str]:  # noqa: ANN001
    return [d["body"]["text"] for d in receiver.boxes["crm"].deliveries.values()]


async def test_telegram_gets_inline_buttons_and_5_spasibo_is_the_score_without_reopening(client, ctx, telegram) -> None:
    fake, _, headers = telegram
    survey = await _survey(client, headers)
    assert (await fake.deliver_text("700000101", "Здравствуйте, где мой заказ?")).status_code == 200
    await ctx.settle()
    conversation_id = (await _messages(ctx))[0].conversation_id
    await _resolve(client, ctx, headers, conversation_id)

    sent = [c for c in fake.calls if c["method"] == "sendMessage"][-1]
    assert sent["text"] == QUESTION["ru"]  # he wrote in Russian
    buttons = [b for row in sent["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["1", "2", "3", "4", "5"]
    [request] = await _requests(ctx)
    assert (request.state, request.language, request.survey_id) == ("sent", "ru", survey["id"])
    assert [e["conversation_id"] for e in await _events(ctx, "survey.sent")] == [conversation_id]

    assert (await fake.deliver_text("700000101", "5 спасибо")).status_code == 200
    await ctx.settle()
    answer = (await _messages(ctx))[-1]
    assert (answer.kind, answer.conversation_id, answer.text) == ("answer", conversation_id, "5 спасибо")
    assert answer.content["survey"] == {"request_id": request.id, "role": "score", "score": 5}
    conversation = await _conversation(ctx, conversation_id)
    assert conversation.status == "resolved" and conversation.resolved_at is not None
    async with ctx.db.reading() as session:
        assert (await session.scalars(select(Conversation.id))).all() == [conversation_id]  # no new conversation
    [answered] = await _events(ctx, "survey.answered")
    assert (answered["score"], answered["kind"], answered["conversation_id"], answered["comment"]) == (5, "csat", conversation_id, None)
    assert not [e for e in await _events(ctx, "message.received") if e["message_id"] == answer.id]
    # on the timeline (and so in the profile)
    timeline = (await client.get(f"/api/v1/customers/{conversation.customer_id}/timeline", headers=headers)).json()["items"]
    assert {"survey.sent", "survey.answered"} <= {e["kind"] for e in timeline}
    # one survey per conversation: reopened and resolved again, it sends nothing more
    reopened = await client.post(f"/api/v1/conversations/{conversation_id}/status", json={"status": "open"}, headers=headers)
    assert reopened.status_code == 200, reopened.text
    await _resolve(client, ctx, headers, conversation_id)
    assert len(await _requests(ctx)) == 1
    assert len([c for c in fake.calls if c["method"] == "sendMessage" and c.get("reply_markup")]) == 1
    # a question after the survey is over is an ordinary message: a new conversation
    await fake.deliver_text("700000101", "И ещё вопрос: можно поменять адрес доставки?")
    await ctx.settle()
    assert (await _messages(ctx))[-1].conversation_id != conversation_id


async def test_a_button_press_is_a_typed_answer(client, ctx, telegram) -> None:
    fake, _, headers = telegram
    await _survey(client, headers, kind="nps", question={"en": "How likely are you to recommend us?"})
    await fake.deliver_text("700000102", "Hello, my order is late")
    await ctx.settle()
    conversation_id = (await _messages(ctx))[0].conversation_id
    await _resolve(client, ctx, headers, conversation_id)
    [request] = await _requests(ctx)
    prompt = next(m for m in await _messages(ctx) if m.id == request.prompt_message_id)
    assert request.language == "en" and prompt.text == "How likely are you to recommend us?"
    assert prompt.content["rendering"] == "buttons" and len(prompt.content["interactive"]["options"]) == 11

    assert (await fake.deliver_button_press("700000102", int(prompt.provider_message_id), f"survey:{request.id}:9")).status_code == 200
    await ctx.settle()
    answer = (await _messages(ctx))[-1]
    assert (answer.kind, answer.conversation_id) == ("answer", conversation_id)
    assert answer.content["answer"]["option_id"] == f"survey:{request.id}:9" and answer.content["answer"]["message_id"] == prompt.id
    [answered] = await _events(ctx, "survey.answered")
    assert (answered["kind"], answered["score"]) == ("nps", 9)
    assert (await _conversation(ctx, conversation_id)).status == "resolved"

    # a second tap (another score) is filed on the same conversation and changes nothing
    assert (await fake.deliver_button_press("700000102", int(prompt.provider_message_id), f"survey:{request.id}:3")).status_code == 200
    await ctx.settle()
    again = (await _messages(ctx))[-1]
    assert (again.kind, again.conversation_id, again.content["survey"]["role"]) == ("answer", conversation_id, "late")
    assert [e["score"] for e in await _events(ctx, "survey.answered")] == [9]
    assert (await _requests(ctx))[0].score == 9 and (await _conversation(ctx, conversation_id)).status == "resolved"


async def test_api_channel_gets_the_scale_as_text_a_retry_and_a_follow_up_comment(client, ctx, api_channel) -> None:
    receiver, channel, secret, headers = api_channel
    conversation_id = await _surveyed_and_resolved(client, ctx, api_channel, "Добрый день, не приходит код", follow_up=FOLLOW_UP)
    assert _api_sent(receiver)[-1] == QUESTION["ru"] + "\n\nОтветьте цифрой от 1 до 5."

    await _api_inbound(client, channel, secret, "in-2", "отлично")  # no score: one polite retry
    await ctx.settle()
    assert _api_sent(receiver)[-1] == "Извините, не поняли оценку. Пожалуйста, ответьте одной цифрой от 1 до 5."
    await _api_inbound(client, channel, secret, "in-3", "оценка 4")
    await ctx.settle()
    assert _api_sent(receiver)[-1] == FOLLOW_UP["ru"]
    assert await _events(ctx, "survey.answered") == []  # waiting for the comment
    await _api_inbound(client, channel, secret, "in-4", "Быстрее отвечать в выходные")
    await ctx.settle()
    [answered] = await _events(ctx, "survey.answered")
    assert (answered["score"], answered["comment"]) == (4, "Быстрее отвечать в выходные")
    [request] = await _requests(ctx)
    assert (request.state, request.score) == ("answered", 4)
    messages = await _messages(ctx)
    assert {m.conversation_id for m in messages} == {conversation_id}
    comment = next(m for m in messages if m.id == request.comment_message_id)
    assert comment.text == "Быстрее отвечать в выходные" and comment.content["survey"]["role"] == "comment"
    assert (await _conversation(ctx, conversation_id)).status == "resolved"
    shown = await client.get(f"/ui/conversations/{conversation_id}", headers=headers)  # the operator sees it all
    assert shown.status_code == 200 and "Быстрее отвечать в выходные" in shown.text and "оценка 4" in shown.text

    # the survey is over: the next message is an ordinary one (a new conversation)
    await _api_inbound(client, channel, secret, "in-5", "5")
    await ctx.settle()
    last = (await _messages(ctx))[-1]
    assert last.kind == "message" and last.conversation_id != conversation_id


async def test_a_second_unclear_reply_gives_up_and_a_long_message_is_not_an_answer(client, ctx, api_channel) -> None:
    receiver, channel, secret, headers = api_channel
    conversation_id = await _surveyed_and_resolved(client, ctx, api_channel, "Hello there")
    assert _api_sent(receiver)[-1].endswith("Reply with a number from 1 to 5.")
    await _api_inbound(client, channel, secret, "in-2", "11")  # out of range
    await ctx.settle()
    assert _api_sent(receiver)[-1].startswith("Sorry, we didn't catch your score.")
    await _api_inbound(client, channel, secret, "in-3", "great")
    await ctx.settle()
    [request] = await _requests(ctx)
    assert (request.state, request.skip_reason) == ("unanswered", "gave_up")
    assert (await _messages(ctx))[-1].conversation_id != conversation_id  # went its usual way
    assert await _events(ctx, "survey.answered") == []


async def test_quiet_window_and_no_survey_after_erase(client, ctx, api_channel) -> None:
    receiver, channel, secret, headers = api_channel
    first = await _surveyed_and_resolved(client, ctx, api_channel, "Вопрос про доставку")
    await _api_inbound(client, channel, secret, "in-2", "5")
    await ctx.settle()
    await _api_inbound(client, channel, secret, "in-3", "Новый вопрос про оплату заказа, помогите пожалуйста")
    await ctx.settle()
    second = (await _messages(ctx))[-1].conversation_id
    assert second != first
    sent_before = len(_api_sent(receiver))
    await _resolve(client, ctx, headers, second)
    assert len(_api_sent(receiver)) == sent_before  # surveyed within the quiet window
    assert [(r.conversation_id, r.state, r.skip_reason) for r in await _requests(ctx)][1] == (second, "skipped", "quiet")

    # another customer, erased before his conversation is resolved
    await _api_inbound(client, channel, secret, "in-4", "Удалите мои данные", who="crm-77")
    await ctx.settle()
    third = (await _messages(ctx))[-1]
    erased = await client.post(f"/api/v1/customers/{third.customer_id}/erase", json={"reason": "data subject request"}, headers=headers)
    assert erased.status_code in (200, 202), erased.text
    await ctx.settle()
    await _resolve(client, ctx, headers, third.conversation_id)
    assert len(_api_sent(receiver)) == sent_before
    assert (await _requests(ctx))[-1].skip_reason == "erased"


async def test_survey_api_validates_and_limits_access(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    bad = [
        ({"kind": "stars", "name": "x", "question": QUESTION}, "kind"),
        ({"kind": "csat", "name": "x", "question": {"de": "Wie?"}}, "de"),
        ({"kind": "csat", "name": "x", "question": {"ru": " "}}, "question"),
        ({"kind": "csat", "name": "x", "question": QUESTION, "team_ids": [999]}, "team 999"),
        ({"kind": "csat", "name": "x", "question": QUESTION, "delay_minutes": -1}, "delay_minutes"),
        ({"kind": "csat", "name": "x", "question": QUESTION, "trigger": "opened"}, "trigger"),
    ]
    for body, said in bad:
        response = await client.post("/api/v1/surveys", json=body, headers=headers)
        assert response.status_code == 422 and said in response.text, (body, response.text)
    created = await _survey(client, headers)
    assert created["scale"] == [1, 5] and created["follow_up"] is None
    changed = await client.patch(f"/api/v1/surveys/{created['id']}", json={"is_active": False, "follow_up": FOLLOW_UP}, headers=headers)
    assert changed.status_code == 200 and changed.json()["is_active"] is False and changed.json()["follow_up"] == FOLLOW_UP
    refused = await client.patch(f"/api/v1/surveys/{created['id']}", json={"kind": "nps"}, headers=headers)
    assert refused.status_code == 422 and "kind can't change" in refused.text
    assert (await client.get("/api/v1/surveys/999", headers=headers)).status_code == 404

    supervisor = await make_operator(ctx, role="supervisor")
    operator = await make_operator(ctx, role="operator")
    as_supervisor = await login(client, email=supervisor["email"])
    as_operator = await login(client, email=operator["email"])
    assert (await client.get("/api/v1/surveys", headers=as_supervisor)).json()["items"][0]["id"] == created["id"]
    assert (await client.post("/api/v1/surveys", json={"kind": "csat", "name": "x", "question": QUESTION}, headers=as_supervisor)).status_code == 403
    assert (await client.patch(f"/api/v1/surveys/{created['id']}", json={"name": "y"}, headers=as_supervisor)).status_code == 403
    assert (await client.get("/api/v1/surveys", headers=as_operator)).status_code == 403


async def test_the_delay_is_a_durable_timer(client, ctx, api_channel, travel) -> None:  # noqa: ANN001
    from datetime import UTC, datetime, timedelta

    receiver, channel, secret, headers = api_channel
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    travel(start)
    await _surveyed_and_resolved(client, ctx, api_channel, "Вопрос", delay_minutes=30)
    assert _api_sent(receiver) == [] and (await _requests(ctx))[0].state == "scheduled"
    travel(start + timedelta(minutes=31))
    await ctx.settle()
    assert _api_sent(receiver) == [QUESTION["ru"] + "\n\nОтветьте цифрой от 1 до 5."]
    # nobody answers within OKNO_SURVEY_ANSWER_HOURS: the survey ends unanswered and "5" is a message
    travel(start + timedelta(hours=80))
    await ctx.settle()
    assert ((await _requests(ctx))[0].state, (await _requests(ctx))[0].skip_reason) == ("unanswered", "no_answer")


async def test_the_automation_action_send_survey(client, ctx, api_channel) -> None:
    receiver, channel, secret, headers = api_channel
    survey = await _survey(client, headers, kind="ces", trigger="resolved", is_active=True, question={"ru": "Легко ли было решить вопрос?"})
    refused = await client.post("/api/v1/automation/rules", json={"name": "x", "event": "conversation.priority_changed", "actions": [{"type": "send_survey", "survey_id": 999}]}, headers=headers)
    assert refused.status_code == 422 and "survey 999 does not exist" in refused.text
    rule = await client.post("/api/v1/automation/rules", json={
        "name": "Срочные — опрос", "event": "conversation.priority_changed", "actions": [{"type": "send_survey", "survey_id": survey["id"]}]}, headers=headers)
    assert rule.status_code == 201, rule.text
    await _api_inbound(client, channel, secret, "in-1", "Вопрос")
    await ctx.settle()
    conversation_id = (await _messages(ctx))[0].conversation_id
    assert (await client.post(f"/api/v1/conversations/{conversation_id}/priority", json={"priority": 3}, headers=headers)).status_code == 200
    await ctx.settle()
    assert _api_sent(receiver)[-1] == "Легко ли было решить вопрос?\n\nОтветьте цифрой от 1 до 7."
    await _api_inbound(client, channel, secret, "in-2", "7")
    await ctx.settle()
    [answered] = await _events(ctx, "survey.answered")
    assert (answered["kind"], answered["score"]) == ("ces", 7)
    assert {m.conversation_id for m in await _messages(ctx)} == {conversation_id}


async def test_no_survey_where_the_customer_cant_be_reached(client, ctx, api_channel) -> None:
    receiver, channel, secret, headers = api_channel
    await _survey(client, headers)
    await _api_inbound(client, channel, secret, "in-1", "Вопрос")
    await ctx.settle()
    conversation_id = (await _messages(ctx))[0].conversation_id
    assert (await client.post(f"/api/v1/channels/{channel['id']}/disable", headers=headers)).status_code == 200
    await _resolve(client, ctx, headers, conversation_id)
    assert _api_sent(receiver) == []
    [request] = await _requests(ctx)
    assert (request.state, request.skip_reason, request.sent_at) == ("skipped", "unreachable", None)
    assert await _events(ctx, "survey.sent") == []


async def test_whatsapp_gets_a_list_of_scores_and_a_pick_is_the_score(client, ctx, whatsapp) -> None:
    fake, _, headers = whatsapp
    await _survey(client, headers)  # CSAT: five scores, more than WhatsApp's three reply buttons
    await fake.deliver_text("79160000123", "Здравствуйте, заказ не пришёл")
    await ctx.settle()
    conversation_id = (await _messages(ctx))[0].conversation_id
    await _resolve(client, ctx, headers, conversation_id)
    [request] = await _requests(ctx)
    prompt = next(m for m in await _messages(ctx) if m.id == request.prompt_message_id)
    assert prompt.status == "sent" and prompt.content["rendering"] == "list" and prompt.content["interactive"]["button"] == "Оценить"
    sent = fake.sent[-1]["body"]
    assert sent["type"] == "interactive" and sent["interactive"]["type"] == "list"
    assert [row["title"] for row in sent["interactive"]["action"]["sections"][0]["rows"]] == ["1", "2", "3", "4", "5"]

    pick = {"id": f"survey:{request.id}:4", "title": "4"}
    assert (await fake.deliver_reply("79160000123", prompt.provider_message_id, "list_reply", pick)).status_code == 200
    await ctx.settle()
    [answered] = await _events(ctx, "survey.answered")
    assert answered["score"] == 4 and (await _conversation(ctx, conversation_id)).status == "resolved"


async def test_the_saved_locale_wins_and_the_event_names_the_team_and_the_operator(client, ctx, api_channel) -> None:
    receiver, channel, secret, headers = api_channel
    team = (await client.post("/api/v1/teams", json={"name": "Поддержка"}, headers=headers)).json()
    await _survey(client, headers, team_ids=[team["id"]], question={"ru": "Оцените помощь", "en": "Rate our help"})
    await _api_inbound(client, channel, secret, "in-1", "Здравствуйте")
    await ctx.settle()
    first = (await _messages(ctx))[0]
    agent = await make_operator(ctx, name="Оля")
    async with ctx.db.transaction() as session:
        from okno.models import team_members

        await session.execute(team_members.insert().values(team_id=team["id"], operator_id=agent["id"]))
    assigned = await client.post(f"/api/v1/conversations/{first.conversation_id}/assign", json={"operator_id": agent["id"], "team_id": team["id"]}, headers=headers)
    assert assigned.status_code == 200, assigned.text
    saved = await client.patch(f"/api/v1/customers/{first.customer_id}/attributes", json={"locale": "en"}, headers=headers)
    assert saved.status_code == 200, saved.text
    await _resolve(client, ctx, headers, first.conversation_id)
    assert _api_sent(receiver)[-1] == "Rate our help\n\nReply with a number from 1 to 5."
    [sent] = await _events(ctx, "survey.sent")
    assert (sent["team_id"], sent["operator_id"], sent["channel_id"], sent["kind"]) == (team["id"], agent["id"], channel["id"], "csat")


async def test_an_answer_after_a_merge_is_still_recognised(client, ctx, api_channel) -> None:
    receiver, channel, secret, headers = api_channel
    await _survey(client, headers)
    await _api_inbound(client, channel, secret, "in-1", "Здравствуйте", who="crm-99")
    await ctx.settle()
    survivor = (await _messages(ctx))[0].customer_id
    await _api_inbound(client, channel, secret, "in-2", "Где заказ?", who="crm-42")
    await ctx.settle()
    surveyed = (await _messages(ctx))[-1]
    await _resolve(client, ctx, headers, surveyed.conversation_id)
    assert _api_sent(receiver)
    merged = await client.post(f"/api/v1/customers/{survivor}/merge", json={"other_customer_id": surveyed.customer_id, "reason": "один человек"}, headers=headers)
    assert merged.status_code == 200, merged.text
    await ctx.settle()
    assert (await _requests(ctx))[0].customer_id == survivor
    await _api_inbound(client, channel, secret, "in-3", "5", who="crm-42")
    await ctx.settle()
    answer = (await _messages(ctx))[-1]
    assert (answer.kind, answer.conversation_id, answer.customer_id) == ("answer", surveyed.conversation_id, survivor)
    assert [e["score"] for e in await _events(ctx, "survey.answered")] == [5]
