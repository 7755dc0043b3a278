"""``send_canned_answer``: a canned answer, rendered for the conversation, sent to the customer.
It has no author, so it never counts as a human response for the SLA."""

from __future__ import annotations

from typing import Any

from okno.automation.actions.base import ActionParams, ActionRun, AutomationAction, Checking, Names
from okno.automation.reply_limit import check_auto_reply_limit
from okno.conversations.replies import post_operator_message
from okno.kit.errors import Invalid
from okno.kit.labels import Label, labelled
from okno.knowledge.canned import render_answer
from okno.models import CannedAnswer


class SendCannedAnswerParams(ActionParams):
    answer_id: int = labelled("Canned answer", "Шаблон ответа", strict=True, json_schema_extra={"x-options": "canned"})


class SendCannedAnswer(AutomationAction):
    type = "send_canned_answer"
    label = Label(en="Send a canned answer", ru="Отправить шаблон ответа")
    params = SendCannedAnswerParams

    async def validate(self, params: SendCannedAnswerParams, checking: Checking) -> dict[str, Any]:
        if await checking.session.get(CannedAnswer, params.answer_id) is None:
            raise checking.refuse("canned answer %(id)s does not exist", at="answer_id", id=params.answer_id)
        return await super().validate(params, checking)

    async def perform(self, run: ActionRun, action: dict[str, Any]) -> None:
        if run.event.payload.get("automatic") is True:  # an auto-reply answering an auto-reply: a mail loop
            raise Invalid("not sent: the customer's message was sent automatically (an auto-reply or a mailing list)")
        await check_auto_reply_limit(run.session, run.conversation_id, run.auto_reply_limit)
        rendered = await render_answer(run.session, action["answer_id"], conversation_id=run.conversation_id, operator=None)
        await post_operator_message(run.session, conversation_id=run.conversation_id, author_id=None, text=rendered["text"])  # type: ignore[arg-type]

    def describe(self, action: dict[str, Any], names: Names) -> str:
        return names.canned_answer(action.get("answer_id"))
