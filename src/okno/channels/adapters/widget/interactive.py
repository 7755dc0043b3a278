"""The widget's own choices: an operator message carries its ``interactive`` in the visitor's
stream (widget.js draws buttons, quick-reply chips or a list), and a press comes back over the
socket as ``answer {client_id, message_id, option_id}``. The option is looked up in the message
we sent, so a visitor can only pick what was offered."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from okno.channels.adapters.widget.streams import event_by_client_id
from okno.channels.base import InboundMessage, SenderIdentity
from okno.channels.interactive import (
    MAX_BUTTON,
    MAX_DESCRIPTION,
    MAX_FRAME,
    MAX_OPTIONS,
    MAX_TITLE,
    Answer,
    ChoiceLimits,
    InteractiveSupport,
    interactive_of,
)

MESSAGE_PREFIX = "widget:"  # the provider message id of an operator message: widget:<idempotency key>

_ALL = ChoiceLimits(max_options=MAX_OPTIONS, max_title=MAX_TITLE, max_description=MAX_DESCRIPTION)
SUPPORT = InteractiveSupport(buttons=_ALL, quick_replies=_ALL, list=_ALL, max_header=MAX_FRAME, max_footer=MAX_FRAME, max_button=MAX_BUTTON)


class AnswerFrame(BaseModel):
    client_id: str = Field(min_length=1, max_length=64)
    message_id: str = Field(min_length=1, max_length=200)
    option_id: str = Field(min_length=1, max_length=64)


class UnknownChoice(ValueError):
    pass


async def answer_item(session: AsyncSession, channel_id: int, visitor_id: str, frame: AnswerFrame) -> tuple[InboundMessage, dict[str, Any]]:
    """The visitor's pick as an inbound answer, and what the visitor's stream shows of it."""
    sent = None
    if frame.message_id.startswith(MESSAGE_PREFIX):
        sent = await event_by_client_id(session, channel_id, visitor_id, frame.message_id[len(MESSAGE_PREFIX) :])
    offered = interactive_of(sent.payload) if sent is not None and sent.kind == "agent" else None
    if offered is None:
        raise UnknownChoice(f"message {frame.message_id!r} offered no choices to this visitor")
    option = offered.option(frame.option_id)
    if option is None:
        raise UnknownChoice(f"message {frame.message_id!r} offered no option {frame.option_id!r}")
    answer = Answer(option_id=option.id, title=option.title, in_reply_to=frame.message_id)
    item = InboundMessage(
        provider_id=f"web:{visitor_id}:{frame.client_id}",
        provider_message_id=frame.client_id,
        sender=[SenderIdentity(kind="web", value=visitor_id)],
        text=option.title,
        answer=answer,
    )
    return item, {"text": option.title, "answer": {"message_id": frame.message_id, "option_id": option.id}}
