"""MAX choices: an ``inline_keyboard`` attachment of ``callback`` buttons (the option id as the
button's ``payload``) out; a ``message_callback`` update in, answered after it is stored with
``POST /answers?callback_id=…`` (MAX has no answer-in-the-webhook-reply)."""

from __future__ import annotations

import math
from typing import Any

import httpx
import structlog

from okno.channels.base import InboundMessage, OutboundMessage, SenderIdentity
from okno.channels.interactive import Answer, ChoiceLimits, InteractiveSupport, framed_for

MAX_BUTTONS = 210
MAX_ROWS = 30
MAX_BUTTON_TEXT = 128
MAX_PAYLOAD = 1024

SUPPORT = InteractiveSupport(buttons=ChoiceLimits(max_options=MAX_BUTTONS, max_title=MAX_BUTTON_TEXT))

log = structlog.get_logger()


def outgoing(message: OutboundMessage) -> tuple[str, list[dict[str, Any]] | None]:
    """The text to send and the attachments for its last chunk (None without choices)."""
    offered = message.interactive
    if offered is None:
        return message.text, None
    buttons = [{"type": "callback", "text": o.title, "payload": o.id} for o in offered.options]
    per_row = max(1, math.ceil(len(buttons) / MAX_ROWS))
    rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    return framed_for(SUPPORT, offered, message.text), [{"type": "inline_keyboard", "payload": {"buttons": rows}}]


def parse_callback(update: dict[str, Any]) -> InboundMessage | None:
    """A ``message_callback`` in a dialog as a typed answer; None for anything else."""
    callback = update.get("callback")
    if not isinstance(callback, dict):
        return None
    callback_id, payload, user = callback.get("callback_id"), callback.get("payload"), callback.get("user")
    if not (isinstance(callback_id, str) and 0 < len(callback_id) <= 200) or not isinstance(payload, str) or not payload or not isinstance(user, dict):
        return None
    user_id = user.get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user.get("is_bot") is True:
        return None
    message = update.get("message") if isinstance(update.get("message"), dict) else {}  # null when the message was deleted
    recipient = message.get("recipient") if isinstance(message.get("recipient"), dict) else {}
    if recipient and recipient.get("chat_type") != "dialog":
        return None
    body = message.get("body") if isinstance(message.get("body"), dict) else {}
    mid = body.get("mid") if isinstance(body.get("mid"), str) and body.get("mid") else None
    title = _button_text(body.get("attachments"), payload)
    name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if isinstance(p, str) and p) or str(user.get("name") or "")
    return InboundMessage(
        provider_id=f"callback:{callback_id}",
        sender=[SenderIdentity(kind="max", value=str(user_id))],
        sender_name=name,
        text=title,
        answer=Answer(option_id=payload[:256], title=title, in_reply_to=mid[:255] if mid else None),
        context={"max": {"callback_id": callback_id, "locale": update.get("user_locale") if isinstance(update.get("user_locale"), str) else None}},
    )


def _button_text(attachments: Any, payload: str) -> str:
    for attachment in attachments if isinstance(attachments, list) else []:
        if not isinstance(attachment, dict) or attachment.get("type") != "inline_keyboard":
            continue
        rows = (attachment.get("payload") or {}).get("buttons") if isinstance(attachment.get("payload"), dict) else None
        for row in rows if isinstance(rows, list) else []:
            for button in row if isinstance(row, list) else []:
                if isinstance(button, dict) and button.get("payload") == payload and isinstance(button.get("text"), str):
                    return button["text"][:1000]
    return ""


async def answer_callbacks(http: httpx.AsyncClient, answers_url: str, headers: dict[str, str], answers: list[InboundMessage]) -> None:
    """``POST /answers`` for each press: a short notification naming the choice stops the client waiting."""
    for item in answers:
        callback_id = (item.context.get("max") or {}).get("callback_id")
        if not callback_id or item.answer is None:
            continue
        notification = f"✓ {item.answer.title}" if item.answer.title else "✓"
        try:
            response = await http.post(answers_url, params={"callback_id": callback_id}, json={"notification": notification}, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("max_callback_answer_failed", error=f"{type(exc).__name__}: {exc}")
            continue
        if not response.is_success:
            log.warning("max_callback_answer_refused", status=response.status_code, body=response.text[:200])
