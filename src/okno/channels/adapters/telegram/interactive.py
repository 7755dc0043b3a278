"""Telegram choices: an inline keyboard (``reply_markup.inline_keyboard``, one button a row, the
option id as ``callback_data``) out; a ``callback_query`` in, answered in the webhook's own
reply with ``answerCallbackQuery`` (Telegram runs a method given as the webhook response body)
so the client stops spinning without a second request."""

from __future__ import annotations

from typing import Any

import orjson

from okno.channels.base import InboundMessage, OutboundMessage, SenderIdentity, WebhookReply
from okno.channels.interactive import MAX_TITLE, Answer, ChoiceLimits, InteractiveSupport, framed_for

MAX_BUTTONS = 100  # buttons in one inline keyboard
MAX_CALLBACK_DATA = 64  # bytes

SUPPORT = InteractiveSupport(buttons=ChoiceLimits(max_options=MAX_BUTTONS, max_title=MAX_TITLE))


def outgoing(message: OutboundMessage) -> tuple[str, dict[str, Any] | None]:
    """The text to send and the ``reply_markup`` for its last chunk (None without choices)."""
    offered = message.interactive
    if offered is None:
        return message.text, None
    keyboard = [[{"text": option.title, "callback_data": option.id}] for option in offered.options]
    return framed_for(SUPPORT, offered, message.text), {"inline_keyboard": keyboard}


def parse_callback_query(query: Any) -> InboundMessage | None:
    """A private chat's button press as a typed answer; None for anything else."""
    if not isinstance(query, dict):
        return None
    query_id, sender, data = query.get("id"), query.get("from"), query.get("data")
    if not isinstance(query_id, str) or not query_id or not isinstance(sender, dict) or sender.get("is_bot"):
        return None
    user_id = sender.get("id")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not isinstance(data, str) or not data:
        return None  # a game button or a button of another bot's inline message: no data to answer with
    message = query.get("message") if isinstance(query.get("message"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    if chat and chat.get("type") != "private":
        return None
    prompt_id = message.get("message_id")
    title = _button_text(message.get("reply_markup"), data)
    name = " ".join(str(p) for p in (sender.get("first_name"), sender.get("last_name")) if p)
    return InboundMessage(
        provider_id=f"callback:{query_id}",
        sender=[SenderIdentity(kind="telegram", value=str(user_id))],
        sender_name=name,
        text=title,
        answer=Answer(
            option_id=data[:256], title=title, in_reply_to=str(prompt_id) if isinstance(prompt_id, int) and not isinstance(prompt_id, bool) else None
        ),
        context={"telegram": {"callback_query_id": query_id}},
    )


def acknowledgement(query_id: str) -> WebhookReply:
    """``answerCallbackQuery`` as the webhook's response: Telegram runs it, no request of ours."""
    return WebhookReply(200, body=orjson.dumps({"method": "answerCallbackQuery", "callback_query_id": query_id}), media_type="application/json")


def _button_text(markup: Any, data: str) -> str:
    """The pressed button's label, read from the keyboard Telegram sends back with the message."""
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    for row in rows if isinstance(rows, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict) and button.get("callback_data") == data and isinstance(button.get("text"), str):
                return button["text"][:1000]
    return ""
